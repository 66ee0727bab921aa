from django import forms
from django.utils.translation import gettext_lazy as _

from apps.projects.models import PairStrategy


class ImportForm(forms.Form):
    """The upload's size is checked by the service (apps/imports/pipeline.upload_check), as for
    every import kind."""

    file = forms.FileField(
        label=_("File"), help_text=_("JSONL: one prompt with its responses per line.")
    )
    pair_strategy = forms.ChoiceField(
        label=_("Pair strategy"), choices=PairStrategy.choices, required=False
    )
    max_pairs_per_prompt = forms.IntegerField(
        label=_("Max pairs per prompt"), min_value=1, max_value=100, required=False
    )
