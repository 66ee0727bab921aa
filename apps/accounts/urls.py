from django.urls import path

from apps.accounts import apis, views

app_name = "accounts"
urlpatterns = [
    path("account/tokens/", views.token_list, name="tokens"),
    path("account/tokens/revoke/", views.token_revoke, name="token-revoke"),
    path("account/settings/", views.account_settings, name="settings"),
    path("account/language/", views.language_switch, name="language"),
    path("api/tokens/", apis.TokenListApi.as_view(), name="api-tokens"),
    path("api/tokens/<str:token_key>/", apis.TokenDetailApi.as_view(), name="api-token"),
]
