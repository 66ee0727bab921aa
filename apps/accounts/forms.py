from django import forms

from apps.accounts.models import TokenScope
from apps.accounts.services import DEFAULT_TOKEN_LIFETIME, TOKEN_LIFETIMES


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What the token is for, e.g. “nightly export”."
    )
    scope = forms.ChoiceField(
        choices=TokenScope.choices, initial=TokenScope.READ, widget=forms.RadioSelect
    )
    days = forms.TypedChoiceField(
        label="Expires in",
        choices=[(days, f"{days} days") for days in TOKEN_LIFETIMES],
        coerce=int,
        initial=DEFAULT_TOKEN_LIFETIME,
    )
