from django import forms
from django.utils.translation import gettext_lazy as _

from apps.judges.models import JudgeBackend
from apps.judges.prompts import KINDS


class JudgeForm(forms.Form):
    """A new judge: its backend and the model it calls. The URL and key of an endpoint go to the
    project's model servers (the key encrypted); a local model or reward model is a reference."""

    name = forms.CharField(label=_("Name"), max_length=100)
    backend = forms.ChoiceField(label=_("Backend"), choices=JudgeBackend.choices)
    model = forms.CharField(
        label=_("Model"),
        max_length=500,
        required=False,
        help_text=_(
            "Endpoint: the model name the server expects. Local: a model reference "
            "(base:…, run:…). Reward model: run:<id>, or empty for the project's champion."
        ),
    )
    base_url = forms.CharField(max_length=500, required=False, label=_("Server URL"))
    api_key = forms.CharField(
        max_length=2000, required=False, widget=forms.PasswordInput, label=_("API key")
    )
    device = forms.ChoiceField(
        label=_("Device"),
        choices=[("auto", "auto"), ("cpu", "cpu"), ("cuda", "cuda")],
        required=False,
    )
    max_tokens = forms.IntegerField(
        label=_("Max tokens"), min_value=1, max_value=4096, required=False
    )
    batch_size = forms.IntegerField(label=_("Batch size"), min_value=1, max_value=256, initial=16)
    prelabel = forms.BooleanField(required=False, label=_("Show as suggestions to annotators"))

    def backend_config(self) -> dict:
        data = self.cleaned_data
        backend = data["backend"]
        config = {"model": data.get("model") or ""}
        if backend == JudgeBackend.ENDPOINT:
            config.update(base_url=data.get("base_url") or "", api_key=data.get("api_key") or "")
        if backend == JudgeBackend.LOCAL and data.get("device"):
            config["device"] = data["device"]
        if backend != JudgeBackend.REWARD_MODEL and data.get("max_tokens"):
            config["max_tokens"] = data["max_tokens"]
        return config


class JudgeSettingsForm(forms.Form):
    """The templates (one per kind; empty: the default), pre-labelling and the batch size."""

    prelabel = forms.BooleanField(required=False, label=_("Show as suggestions to annotators"))
    batch_size = forms.IntegerField(label=_("Batch size"), min_value=1, max_value=256)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for kind in KINDS:
            self.fields[f"template_{kind}"] = forms.CharField(
                required=False, widget=forms.Textarea(attrs={"rows": 10}), strip=False
            )

    def templates(self) -> dict:
        return {kind: self.cleaned_data.get(f"template_{kind}") or "" for kind in KINDS}


class JudgeRunForm(forms.Form):
    only_unjudged = forms.BooleanField(
        required=False, initial=True, label=_("Only tasks this judge has not labelled")
    )


class PolicyEvalForm(forms.Form):
    """A succeeded policy run of the project, compared with its base model by the judge."""

    run = forms.TypedChoiceField(coerce=int, label=_("Policy run"))
    prompts = forms.IntegerField(label=_("Prompts"), min_value=1, max_value=1000, initial=32)
    max_tokens = forms.IntegerField(label=_("Max tokens"), min_value=1, max_value=4096, initial=64)

    def __init__(self, *args, runs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["run"].choices = [(r.pk, f"run {r.pk}: {r.name}") for r in runs]
