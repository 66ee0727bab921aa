"""The user's own API tokens (make one, shown once; see which exist; revoke one) and settings."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.accounts.forms import LanguageForm, TokenForm
from apps.accounts.selectors import api_tokens_for_user
from apps.accounts.services import api_token_create, api_token_revoke, user_language_set
from apps.core.errors import ApplicationError

NEW_TOKEN_KEY = "accounts:new-api-token"


@never_cache  # the page that shows a new token must not be kept by any cache
@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    """The user's tokens and a form for a new one. A new token is shown by the GET that follows
    its POST (so a reload never makes another), once: it is taken out of the session as shown."""
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = api_token_create(user=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            request.session[NEW_TOKEN_KEY] = {"digest": token.digest, "secret": secret}
            return redirect("accounts:tokens")
    new = request.session.pop(NEW_TOKEN_KEY, None) if request.method == "GET" else None
    tokens = list(api_tokens_for_user(user=request.user))
    shown = next((t for t in tokens if new and t.digest == new["digest"]), None)
    context = {
        "form": form,
        "tokens": tokens,
        "new": {"row": shown, "secret": new["secret"]} if shown else None,
    }
    return render(request, "accounts/tokens.html", context)


@login_required
@require_POST
def token_revoke(request: HttpRequest) -> HttpResponse:
    api_token_revoke(user=request.user, token_key=request.POST.get("token_key", ""))
    messages.success(request, _("The token is revoked: it no longer works."))
    return redirect("accounts:tokens")


@login_required
def account_settings(request: HttpRequest) -> HttpResponse:
    """The user's settings: the language their pages are shown in."""
    form = LanguageForm(request.POST or None, initial={"language": request.user.language})
    if request.method == "POST" and form.is_valid():
        user_language_set(user=request.user, language=form.cleaned_data["language"])
        translation.activate(
            request.user.language or translation.get_language_from_request(request)
        )
        messages.success(request, _("Your settings are saved."))
        return redirect("accounts:settings")
    return render(request, "accounts/settings.html", {"form": form})


@login_required
@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """The header's language switch: stores the choice and returns to the page it came from."""
    form = LanguageForm(request.POST)
    if form.is_valid():
        user_language_set(user=request.user, language=form.cleaned_data["language"])
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("home")
    return redirect(back)
