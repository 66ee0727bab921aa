from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from apps.projects.models import Role
from apps.teams.services import DEFAULT_INVITATION_LIFETIME, INVITATION_LIFETIMES


class InvitationForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.ANNOTATOR)
    email = forms.EmailField(
        label=_("Email"),
        required=False,
        help_text=_("Optional: the link is emailed there as well as shown here."),
    )
    group = forms.CharField(
        label=_("Group"), max_length=50, required=False, help_text=_("Optional group to join.")
    )
    days = forms.TypedChoiceField(
        label=_("Valid for"),
        choices=[
            (d, format_lazy("{} {}", d, ngettext_lazy("day", "days", d)))
            for d in INVITATION_LIFETIMES
        ],
        coerce=int,
        initial=DEFAULT_INVITATION_LIFETIME,
    )


class AcceptForm(forms.Form):
    """A new account for the invited person."""

    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )


class MemberTermsForm(forms.Form):
    quota = forms.IntegerField(
        label=_("Quota"),
        min_value=0,
        required=False,
        help_text=_("Most tasks (judged + leased); empty = no limit."),
    )
    group = forms.CharField(label=_("Group"), max_length=50, required=False)


class ShareForm(forms.Form):
    percent = forms.IntegerField(
        min_value=1, max_value=100, label=_("Share of the open tasks (%)"), initial=10
    )
    annotators = forms.TypedMultipleChoiceField(label=_("Annotators"), coerce=int, required=False)
    group = forms.CharField(
        label=_("Group"), max_length=50, required=False, help_text=_("…or a group.")
    )

    def __init__(self, *args, annotators: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["annotators"].choices = annotators


class TaskAssignForm(forms.Form):
    task_ids = forms.CharField(
        label=_("Task ids"), help_text=_("Comma-separated, e.g. 12, 13, 20."), max_length=10_000
    )
    annotator = forms.TypedChoiceField(
        label=_("Annotator"), coerce=int, required=False, empty_value=None
    )
    group = forms.CharField(label=_("Group"), max_length=50, required=False)

    def __init__(self, *args, annotators: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["annotator"].choices = [("", "—"), *annotators]

    def clean_task_ids(self) -> list[int]:
        raw = [part.strip() for part in self.cleaned_data["task_ids"].split(",")]
        try:
            return [int(part) for part in raw if part]
        except ValueError as exc:
            raise forms.ValidationError(
                _("Task ids are whole numbers, separated by commas.")
            ) from exc


class ReportForm(forms.Form):
    start = forms.DateField(label=_("Start"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(
        label=_("End"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Included (up to its end)."),
    )

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError(_("The period ends before it starts."))
        return data
