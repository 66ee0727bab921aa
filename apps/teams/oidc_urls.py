"""Single sign-on URLs, under the names mozilla-django-oidc reverses (no namespace)."""

from django.urls import path

from apps.teams.oidc import OidcCallbackView, OidcStartView

urlpatterns = [
    path("oidc/authenticate/", OidcStartView.as_view(), name="oidc_authentication_init"),
    path("oidc/callback/", OidcCallbackView.as_view(), name="oidc_authentication_callback"),
]
