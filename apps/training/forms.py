from django import forms
from django.utils.translation import gettext_lazy as _

from apps.training.model_choices import (
    available_models,
    grouped,
    policy_start_projects,
    run_choices,
)
from apps.training.models import RunStatus, TrainingRun


class LaunchForm(forms.Form):
    """Two clicks: pick the objective, press Launch. Everything else has a default that works."""

    objective = forms.ChoiceField(
        label=_("Objective"),
    )
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    model = forms.ChoiceField(
        required=False,
        label=_("Start from"),
        help_text=_(
            "A policy starts from a base model or a policy run of a project you administer "
            "(an SFT run on demonstrations before DPO); a reward model from a backbone or a "
            "reward-model run (empty: the bundled MiniLM)."
        ),
    )
    num_epochs = forms.IntegerField(label=_("Num epochs"), min_value=1, max_value=100, initial=1)
    learning_rate = forms.FloatField(
        label=_("Learning rate"),
        required=False,
        min_value=1e-8,
        max_value=1.0,
        help_text=_("Empty = the objective's default."),
    )
    batch_size = forms.IntegerField(
        label=_("Batch size"), required=False, min_value=1, max_value=512
    )
    max_steps = forms.IntegerField(label=_("Max steps"), required=False, min_value=1)
    lora = forms.BooleanField(
        label=_("Lora"),
        required=False,
        help_text=_("Train LoRA adapters (peft) instead of all weights."),
    )
    eval_share = forms.FloatField(
        label=_("Eval share"),
        initial=0.2,
        min_value=0.05,
        max_value=0.5,
        help_text=_("Share of prompts held out."),
    )
    reward_run = forms.ModelChoiceField(
        label=_("Reward run"),
        queryset=TrainingRun.objects.none(),
        required=False,
        help_text=_(
            "A trained reward model: RAFT ranks samples with it; other policies are judged by it."
        ),
    )

    heldout_judge_run = forms.ModelChoiceField(
        queryset=TrainingRun.objects.none(),
        required=False,
        label=_("Held-out judge"),
        help_text=_(
            "Policies: a reward model trained on other labels, for the reward-hacking watch "
            "(empty: the most recent other reward-model run)."
        ),
    )
    beta = forms.FloatField(
        label=_("Beta"),
        required=False,
        min_value=1e-6,
        max_value=10.0,
        help_text=_("Policies: KL pull towards the base (empty = the objective's default)."),
    )
    reward_runs = forms.ModelMultipleChoiceField(
        queryset=TrainingRun.objects.none(),
        required=False,
        label=_("Online reward models"),
        help_text=_(
            "GRPO, RLOO: the reward models whose weighted scores are the reward (empty, with "
            "no regex or checker: the project's champion reward model)."
        ),
    )
    reward_weights = forms.CharField(
        label=_("Reward weights"),
        required=False,
        max_length=500,
        help_text=_(
            "GRPO, RLOO: one weight per reward model in the order listed, comma-separated "
            "(empty: 1 each)."
        ),
    )
    regex_rewards = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Regex rewards"),
        help_text=_("GRPO, RLOO: one pattern per line; a completion containing a match scores 1."),
    )
    checkers = forms.MultipleChoiceField(
        required=False,
        label=_("Verifiable checkers"),
        help_text=_("GRPO, RLOO: reward functions the operator registered."),
    )

    def __init__(self, *args, project, objectives: list[str], user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["objective"].choices = [(o, o) for o in objectives]
        others = policy_start_projects(project=project, user=user)
        others = others.exclude(pk=project.pk) if others is not None else []
        self.fields["model"].choices = grouped(
            run_choices(projects=[project], family="policy", group="Policy runs")
            + run_choices(
                projects=others,
                family="policy",
                group="Policy runs of your other projects",
                name_project=True,
            )
            + run_choices(projects=[project], family="reward", group="Reward-model runs")
            + available_models(),
            empty="Default (reward models: the bundled MiniLM)",
        )
        reward_runs = TrainingRun.objects.filter(
            project=project, family="reward", status=RunStatus.SUCCEEDED
        )
        for field in ("reward_run", "heldout_judge_run", "reward_runs"):
            self.fields[field].queryset = reward_runs
        from trainer.policy.rewards import registered_checkers

        self.fields["checkers"].choices = [(name, name) for name in registered_checkers()]

    def clean_reward_weights(self) -> list[float]:
        text = self.cleaned_data["reward_weights"].strip()
        try:
            return [float(part) for part in text.split(",")] if text else []
        except ValueError:
            raise forms.ValidationError(_("Weights are numbers separated by commas.")) from None

    def trainer_config(self) -> dict:
        data = self.cleaned_data
        config = {"num_epochs": data["num_epochs"], "lora": data["lora"]}
        for key in ("model", "learning_rate", "batch_size", "max_steps", "beta"):
            if data.get(key) not in (None, ""):
                config[key] = data[key]
        if data.get("heldout_judge_run"):
            config["heldout_judge_reward_model"] = f"run:{data['heldout_judge_run'].pk}"
        if data["objective"] in ("grpo", "rloo"):
            if data.get("reward_runs"):
                config["reward_models"] = [f"run:{run.pk}" for run in data["reward_runs"]]
            if data.get("reward_weights"):
                config["reward_weights"] = data["reward_weights"]
            patterns = [line.strip() for line in data.get("regex_rewards", "").splitlines()]
            if any(patterns):
                config["regex_rewards"] = [p for p in patterns if p]
            if data.get("checkers"):
                config["checkers"] = list(data["checkers"])
        return config
