from django import forms
from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import TokenScope
from apps.accounts.services import DEFAULT_TOKEN_LIFETIME, TOKEN_LIFETIMES


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the token is for, e.g. “nightly export”."),
    )
    scope = forms.ChoiceField(
        label=_("Scope"),
        choices=TokenScope.choices,
        initial=TokenScope.READ,
        widget=forms.RadioSelect,
    )
    days = forms.TypedChoiceField(
        label=_("Expires in"),
        choices=[(days, format_lazy(_("{days} days"), days=days)) for days in TOKEN_LIFETIMES],
        coerce=int,
        initial=DEFAULT_TOKEN_LIFETIME,
    )


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("The browser's language")), *settings.LANGUAGES],
        required=False,
        help_text=_("The language Arbiter's pages are shown in when you are signed in."),
    )
