from django import forms
from django.utils.translation import gettext_lazy as _

from apps.generation.backends import BackendConfigError, validate_config
from apps.training.model_choices import grouped, model_choices

# Keys the form does not show, kept as they are when the type stays the same.
_KEPT_KEYS = {"openai": ("max_retries", "backoff"), "transformers": ()}


class BackendForm(forms.Form):
    """A chat project's generation backend, as fields; `config` is the checked dict."""

    type = forms.ChoiceField(
        label=_("Type"),
        choices=[
            ("openai", _("OpenAI-compatible server (vLLM, Ollama, llama.cpp, …)")),
            ("transformers", _("Local transformers model (loaded in the web process)")),
        ],
    )
    model = forms.CharField(
        label=_("Server model"),
        required=False,
        max_length=500,
        help_text=_("Server only: the model name it serves."),
    )
    local_model = forms.ChoiceField(
        label=_("Local model"),
        required=False,
        help_text=_(
            "Local only: a policy run of this project, a base model the operator made "
            "available, or a model already in this machine's Hugging Face cache (nothing is "
            "downloaded)."
        ),
    )
    base_url = forms.CharField(
        label=_("Base URL"),
        required=False,
        max_length=500,
        help_text=_(
            "Server only: its API root, e.g. https://api.example.com/v1. Private addresses "
            "work only if the operator allows them (ARBITER_OUTBOUND_ALLOW_HOSTS)."
        ),
    )
    api_key = forms.CharField(
        label=_("API key"),
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_(
            "Server only. Leave empty to keep the stored key; a new URL starts without one."
        ),
    )
    clear_api_key = forms.BooleanField(label=_("Remove the stored API key"), required=False)
    max_tokens = forms.IntegerField(
        label=_("Longest reply (tokens)"), required=False, min_value=1, max_value=32_768
    )
    temperature = forms.FloatField(label=_("Temperature"), required=False, min_value=0, max_value=5)
    top_p = forms.FloatField(label=_("Top-p"), required=False, min_value=0.01, max_value=1)
    timeout = forms.FloatField(
        label=_("Timeout (seconds)"),
        required=False,
        min_value=0.1,
        max_value=600,
        help_text=_("Server: per attempt (3 attempts). Local: the longest a reply may take."),
    )
    device = forms.ChoiceField(
        label=_("Device"),
        required=False,
        choices=[("auto", _("auto (CUDA when present)")), ("cpu", "CPU"), ("cuda", "CUDA")],
        help_text=_("Local only."),
    )

    def __init__(self, *args, current: dict, project, **kwargs):
        self.current = current or {}
        initial = {k: v for k, v in self.current.items() if k != "api_key"}
        initial["max_tokens"] = self.current.get("max_new_tokens", self.current.get("max_tokens"))
        if self.current.get("type") == "transformers":
            initial["local_model"] = initial.pop("model", "")
        super().__init__(*args, initial=initial, **kwargs)
        # Chosen, never typed: a path on the server is not a choice (model_choices.py).
        self.fields["local_model"].choices = grouped(
            model_choices(project=project, family="policy", adapters=True), empty="—"
        )

    def clean(self):
        data = super().clean()
        kind = data.get("type")
        if not kind or self.errors:
            return data
        model = data.get("local_model" if kind == "transformers" else "model", "")
        if not model:
            field = "local_model" if kind == "transformers" else "model"
            self.add_error(
                field,
                "Choose the local model." if kind == "transformers" else "Name the server's model.",
            )
            return data
        config = {"type": kind, "model": model}
        if self.current.get("type") == kind:
            config.update({k: self.current[k] for k in _KEPT_KEYS[kind] if k in self.current})
        if kind == "openai":
            config["base_url"] = data.get("base_url", "")
            # No key typed: the server's endpoint keeps its key (a new URL has none); "" removes.
            if data.get("api_key"):
                config["api_key"] = data["api_key"]
            elif data.get("clear_api_key"):
                config["api_key"] = ""
            length_key = "max_tokens"
        else:
            config["device"] = data.get("device") or "auto"
            length_key = "max_new_tokens"
        if data.get("max_tokens") is not None:
            config[length_key] = data["max_tokens"]
        for key in ("temperature", "top_p", "timeout"):
            if data.get(key) is not None:
                config[key] = data[key]
        try:
            self.config = validate_config(config)
        except BackendConfigError as exc:
            raise forms.ValidationError(str(exc)) from None
        if "api_key" in config:  # "" (remove the key) must reach the service too
            self.config["api_key"] = config["api_key"]
        return data
