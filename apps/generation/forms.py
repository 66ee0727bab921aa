import re

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.generation.consequences import DEFAULT_TEMPLATE
from apps.generation.endpoints import model_endpoints_for_project
from apps.generation.models import ConsequenceTarget, ModelEndpoint, Pairing, Selection
from apps.projects.models import PairStrategy
from apps.training.model_choices import available_models, grouped


class _ModelsForm(forms.Form):
    """Which models: trained policies, local directories, and models on an OpenAI-compatible
    server. `backend_specs()` gives them as the services take them."""

    policy_runs = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Trained policies"),
        help_text=_("Succeeded policy runs of the projects you administer."),
    )
    local_models = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Base models"),
        help_text=_(
            "Models the operator made available (ARBITER_MODEL_ROOTS) or already in this "
            "machine's Hugging Face cache; nothing is downloaded. Runs on the worker."
        ),
    )
    openai_endpoint = forms.ModelChoiceField(
        queryset=ModelEndpoint.objects.none(),
        required=False,
        label=_("Saved server"),
        empty_label="— none: type a server URL below —",
        help_text=_("An OpenAI-compatible server of this project, with its stored key."),
    )
    openai_base_url = forms.CharField(
        required=False,
        max_length=500,
        label=_("Server URL"),
        help_text=_(
            "An OpenAI-compatible API root (vLLM, Ollama, llama.cpp, OpenAI), e.g. "
            "https://api.example.com/v1. Private addresses (a server on this machine or the LAN) "
            "work only if the operator allows them (ARBITER_OUTBOUND_ALLOW_HOSTS)."
        ),
    )
    openai_models = forms.CharField(
        required=False,
        max_length=1000,
        label=_("Server models"),
        help_text=_("The model names the server serves, comma-separated."),
    )
    openai_api_key = forms.CharField(
        required=False,
        max_length=500,
        label=_("API key"),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_(
            "Sent as a bearer token. Stored encrypted with the project's server, never "
            "shown; leave empty to keep the stored key (a new URL starts without one)."
        ),
    )

    MODEL_FIELDS = (
        "policy_runs", "local_models", "openai_endpoint", "openai_base_url", "openai_models",
        "openai_api_key",
    )  # fmt: skip

    def model_fields(self) -> list:
        return [self[name] for name in self.MODEL_FIELDS]

    def other_fields(self) -> list:
        return [field for field in self if field.name not in self.MODEL_FIELDS]

    def __init__(self, *args, policy_runs, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy_runs"].queryset = policy_runs
        self.fields["openai_endpoint"].queryset = model_endpoints_for_project(project=project)
        self.fields["openai_endpoint"].label_from_instance = lambda endpoint: (
            f"{endpoint.name} ({endpoint.base_url})" + (", key stored" * endpoint.has_api_key)
        )
        # Chosen, never typed: a path on the server is not a choice (model_choices.py).
        self.fields["local_models"].choices = grouped(available_models(adapters=True))
        self.fields["policy_runs"].label_from_instance = lambda run: (
            f"Run {run.pk}: {run.name} ({run.objective}, {run.project.name})"
        )

    def clean(self):
        data = super().clean()
        server = data.get("openai_endpoint") or data.get("openai_base_url")
        if data.get("openai_endpoint") and data.get("openai_base_url"):
            self.add_error("openai_base_url", _("Choose a saved server or type a URL, not both."))
        elif data.get("openai_endpoint") and data.get("openai_api_key"):
            self.add_error("openai_api_key", _("A saved server keeps its own key."))
        if data.get("openai_models") and not server:
            self.add_error("openai_base_url", _("Choose a saved server or give the server's URL."))
        if server and not data.get("openai_models"):
            self.add_error("openai_models", _("Name at least one model of the server."))
        return data

    def backend_specs(self) -> list[dict]:
        data = self.cleaned_data
        specs = [{"training_run": run.pk} for run in data.get("policy_runs") or []]
        specs += [
            {"type": "transformers", "model": reference}
            for reference in data.get("local_models") or []
        ]
        for model in (data.get("openai_models") or "").split(","):
            if not model.strip():
                continue
            if data.get("openai_endpoint"):
                specs.append(
                    {"type": "openai", "endpoint": data["openai_endpoint"].pk, "model": model}
                )
                continue
            spec = {"type": "openai", "base_url": data["openai_base_url"], "model": model}
            if data.get("openai_api_key"):
                spec["api_key"] = data["openai_api_key"]
            specs.append(spec)
        return specs


def _prompt_ids(text: str) -> list[int]:
    parts = [part for part in re.split(r"[\s,]+", text or "") if part]
    bad = [part for part in parts if not part.isdigit()]
    if bad:
        raise forms.ValidationError(
            _("Not prompt ids: %(values)s.") % {"values": ", ".join(bad[:5])}
        )
    return [int(part) for part in parts]


class _SamplingFields(forms.Form):
    temperature = forms.FloatField(label=_("Temperature"), initial=0.7, min_value=0, max_value=5)
    top_p = forms.FloatField(label=_("Top-p"), initial=1.0, min_value=0.01, max_value=1)
    max_tokens = forms.IntegerField(
        label=_("Max tokens"), initial=256, min_value=1, max_value=32_768
    )
    batch_size = forms.IntegerField(
        label=_("Batch size"),
        initial=8,
        min_value=1,
        max_value=256,
        help_text=_("Prompts per batch: sampled together, written together, cancel between."),
    )
    prompt_ids = forms.CharField(
        required=False,
        label=_("Prompt ids"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For “the listed prompt ids”: comma- or space-separated."),
    )

    def clean_prompt_ids(self):
        return _prompt_ids(self.cleaned_data.get("prompt_ids", ""))

    def clean(self):
        data = super().clean()
        if data.get("selection") == Selection.LISTED and not data.get("prompt_ids"):
            self.add_error("prompt_ids", _("List the prompt ids to use."))
        return data


class GenerationJobForm(_SamplingFields, _ModelsForm):
    n_per_prompt = forms.IntegerField(
        label=_("Responses per prompt and model"), initial=2, min_value=1, max_value=16
    )
    selection = forms.ChoiceField(
        label=_("Prompts"),
        choices=[
            (Selection.WITHOUT_RESPONSES, _("Prompts without responses yet")),
            (Selection.ALL, _("All prompts")),
            (Selection.LISTED, _("The listed prompt ids")),
        ],
    )
    pairing = forms.ChoiceField(label=_("Pairing"), choices=Pairing.choices, initial=Pairing.ALL)
    pair_strategy = forms.ChoiceField(
        label=_("Pairs"), choices=PairStrategy.choices, required=False
    )
    max_pairs_per_prompt = forms.IntegerField(
        label=_("At most pairs per prompt (sampled pairs)"),
        min_value=1,
        max_value=100,
        required=False,
    )

    field_order = [
        "policy_runs", "local_models", "openai_endpoint", "openai_base_url", "openai_models",
        "openai_api_key", "n_per_prompt", "temperature", "top_p", "max_tokens", "batch_size",
        "selection", "prompt_ids", "pairing", "pair_strategy", "max_pairs_per_prompt",
    ]  # fmt: skip

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, project=project, **kwargs)
        self.fields["pair_strategy"].initial = project.pair_strategy
        self.fields["max_pairs_per_prompt"].initial = project.max_pairs_per_prompt


class ConsequenceJobForm(_SamplingFields, _ModelsForm):
    template = forms.CharField(
        label=_("Template"),
        widget=forms.Textarea(attrs={"rows": 12}),
        initial=DEFAULT_TEMPLATE,
        help_text=_(
            "What the model is asked for each response: {prompt} and {response} are filled in."
        ),
    )
    target = forms.ChoiceField(
        label=_("Write a consequence for"), choices=ConsequenceTarget.choices
    )
    selection = forms.ChoiceField(
        label=_("Tasks"),
        choices=[
            (Selection.WITHOUT_CONSEQUENCE, _("Tasks without a consequence yet")),
            (Selection.ALL, _("All tasks not yet shown to an annotator (rewrites)")),
            (Selection.LISTED, _("Tasks of the listed prompt ids")),
        ],
    )

    field_order = [
        "policy_runs", "local_models", "openai_endpoint", "openai_base_url", "openai_models",
        "openai_api_key", "template", "target", "selection", "prompt_ids",
        "temperature", "top_p", "max_tokens", "batch_size",
    ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["max_tokens"].initial = 200

    def clean(self):
        data = super().clean()
        if not self.errors and len(self.backend_specs()) != 1:
            raise forms.ValidationError(_("Choose exactly one model to write the consequences."))
        return data
