from django import forms
from django.utils.translation import gettext_lazy as _

from apps.exports.models import ExportFormat, ExportKind
from apps.exports.options import AGGREGATES_BY_KIND, FORMS, export_kinds_for


class ExportForm(forms.Form):
    """One export's kind and options; the kinds offered are those of the project's kind."""

    kind = forms.ChoiceField(
        label=_("Kind"),
    )
    format = forms.ChoiceField(label=_("Format"), choices=ExportFormat.choices, initial="jsonl")
    form = forms.ChoiceField(
        label=_("Form"),
        choices=[(f, f) for f in FORMS],
        initial="standard",
        help_text=_("standard: text columns; conversational: lists of chat messages."),
    )
    aggregate = forms.ChoiceField(
        label=_("Aggregate"),
        choices=[(a, a) for a in sorted({a for v in AGGREGATES_BY_KIND.values() for a in v})],
        initial="none",
        help_text=_(
            "none: a row per judgment. Per task: majority, mean_strength or "
            "bradley_terry (pairs), majority (unpaired, principles), mean_rank (listwise)."
        ),
    )
    split = forms.FloatField(
        label=_("Split"),
        min_value=0,
        max_value=0.99,
        initial=0,
        required=False,
        help_text=_("Test share of prompts."),
    )
    split_seed = forms.IntegerField(label=_("Split seed"), initial=0, required=False)

    def __init__(self, *args, project_kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [
            (k, ExportKind(k).label) for k in export_kinds_for(project_kind)
        ]

    def options(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
        data.pop("kind", None)
        return data


class DatasetImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"), help_text=_("JSONL in TRL's preference or unpaired format.")
    )
