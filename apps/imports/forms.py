from django import forms
from django.conf import settings

from apps.projects.models import PairStrategy


class ImportForm(forms.Form):
    file = forms.FileField(help_text="JSONL: one prompt with its responses per line.")
    pair_strategy = forms.ChoiceField(choices=PairStrategy.choices, required=False)
    max_pairs_per_prompt = forms.IntegerField(min_value=1, max_value=100, required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.ARBITER_IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is larger than the {settings.ARBITER_IMPORT_MAX_BYTES // 2**20} MiB limit."
            )
        return upload
