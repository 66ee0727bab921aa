"""The user's own API tokens: make one (shown once), see which exist, revoke one."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.accounts.forms import TokenForm
from apps.accounts.selectors import api_tokens_for_user
from apps.accounts.services import api_token_create, api_token_revoke
from apps.core.errors import ApplicationError


@never_cache  # the page that shows a new token must not be kept by any cache
@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        try:
            token, new_token = api_token_create(user=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            form = TokenForm()
            new_token = {"row": token, "secret": new_token}
    context = {"form": form, "tokens": api_tokens_for_user(user=request.user), "new": new_token}
    return render(request, "accounts/tokens.html", context)


@login_required
@require_POST
def token_revoke(request: HttpRequest) -> HttpResponse:
    api_token_revoke(user=request.user, token_key=request.POST.get("token_key", ""))
    messages.success(request, "The token is revoked: it no longer works.")
    return redirect("accounts:tokens")
