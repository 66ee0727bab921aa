from django import forms

from apps.training.model_choices import available_models, grouped, run_choices
from apps.training.models import RunStatus, TrainingRun


class LaunchForm(forms.Form):
    """Two clicks: pick the objective, press Launch. Everything else has a default that works."""

    objective = forms.ChoiceField()
    name = forms.CharField(max_length=200, required=False)
    model = forms.ChoiceField(
        required=False,
        label="Start from",
        help_text="A policy starts from a base model or a policy run of this project; a reward "
        "model from a backbone or a reward-model run (empty: the bundled MiniLM).",
    )
    num_epochs = forms.IntegerField(min_value=1, max_value=100, initial=1)
    learning_rate = forms.FloatField(
        required=False, min_value=1e-8, max_value=1.0, help_text="Empty = the objective's default."
    )
    batch_size = forms.IntegerField(required=False, min_value=1, max_value=512)
    max_steps = forms.IntegerField(required=False, min_value=1)
    lora = forms.BooleanField(
        required=False, help_text="Train LoRA adapters (peft) instead of all weights."
    )
    eval_share = forms.FloatField(
        initial=0.2, min_value=0.05, max_value=0.5, help_text="Share of prompts held out."
    )
    reward_run = forms.ModelChoiceField(
        queryset=TrainingRun.objects.none(),
        required=False,
        help_text="A trained reward model: RAFT ranks samples with it; other policies are judged by it.",
    )

    def __init__(self, *args, project, objectives: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["objective"].choices = [(o, o) for o in objectives]
        self.fields["model"].choices = grouped(
            run_choices(projects=[project], family="policy", group="Policy runs")
            + run_choices(projects=[project], family="reward", group="Reward-model runs")
            + available_models(),
            empty="Default (reward models: the bundled MiniLM)",
        )
        self.fields["reward_run"].queryset = TrainingRun.objects.filter(
            project=project, family="reward", status=RunStatus.SUCCEEDED
        )

    def trainer_config(self) -> dict:
        data = self.cleaned_data
        config = {"num_epochs": data["num_epochs"], "lora": data["lora"]}
        for key in ("model", "learning_rate", "batch_size", "max_steps"):
            if data.get(key) not in (None, ""):
                config[key] = data[key]
        return config
