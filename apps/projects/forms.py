from django import forms
from django.utils.translation import gettext_lazy as _

from apps.projects.models import Project, Role


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = [
            "name",
            "description",
            "kind",
            "overlap",
            "guidelines",
            "pair_strategy",
            "max_pairs_per_prompt",
            "critique_policy",
            "critique_min_length",
            "allow_rewrite",
            "lease_seconds",
            "gold_rate",
            "qualification_tasks",
            "qualification_accuracy",
            "show_suggestions",
            "queue_order",
        ]
        widgets = {
            "guidelines": forms.Textarea(attrs={"rows": 6}),
            "description": forms.Textarea(attrs={"rows": 2}),
        }
        # The model's field names and help texts, translatable (the model's own stay as they are,
        # so that no migration changes with the wording).
        labels = {
            "name": _("Name"),
            "description": _("Description"),
            "kind": _("Kind"),
            "overlap": _("Overlap"),
            "guidelines": _("Guidelines"),
            "pair_strategy": _("Pair strategy"),
            "max_pairs_per_prompt": _("Max pairs per prompt"),
            "critique_policy": _("Critique policy"),
            "critique_min_length": _("Critique min length"),
            "allow_rewrite": _("Allow rewrite"),
            "lease_seconds": _("Lease seconds"),
            "gold_rate": _("Gold rate"),
            "qualification_tasks": _("Qualification tasks"),
            "qualification_accuracy": _("Qualification accuracy"),
            "show_suggestions": _("Show suggestions"),
            "queue_order": _("Queue order"),
        }
        help_texts = {
            "guidelines": _("Markdown shown to annotators."),
            "overlap": _("How many different annotators judge each task."),
            "lease_seconds": _("How long a claimed task stays reserved; empty = site default."),
            "allow_rewrite": _(
                "Annotators may edit the chosen (or the only) response; the edit is stored "
                "with their judgment and exports as SFT data and as an edit-beats-original pair."
            ),
            "gold_rate": _("Share of served tasks that are gold tasks."),
            "show_suggestions": _(
                "Show annotators the reward model's scores (off by default: anchoring)."
            ),
            "qualification_tasks": _(
                "Gold tasks a new annotator answers first; their labels count once they reach "
                "the qualification accuracy on them. 0 = no qualification."
            ),
            "qualification_accuracy": _(
                "Share of the qualification's gold tasks to answer right (0–1)."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.tasks.exists():
            # A disabled field keeps its stored value whatever is posted (project_update checks too).
            self.fields["kind"].disabled = True
            self.fields["kind"].help_text = _("Fixed: the project already has tasks of this kind.")
        # Optional in a post: left out, they keep their stored (or default) value.
        for name in ("qualification_tasks", "qualification_accuracy"):
            self.fields[name].required = False

    def clean_qualification_tasks(self):
        value = self.cleaned_data.get("qualification_tasks")
        return self.instance.qualification_tasks if value is None else value

    def clean_qualification_accuracy(self):
        value = self.cleaned_data.get("qualification_accuracy")
        if value is None:
            return self.instance.qualification_accuracy
        if not 0 <= value <= 1:
            raise forms.ValidationError(_("A share between 0 and 1, e.g. 0.8."))
        return value


class MemberForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.ANNOTATOR)


class PrincipleForm(forms.Form):
    key = forms.SlugField(
        label=_("Key"),
        max_length=80,
        help_text=_("A short stable name, e.g. answers-the-question."),
    )
    text = forms.CharField(
        label=_("Text"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Plain language, answerable yes or no."),
    )


class RubricItemForm(forms.Form):
    text = forms.CharField(label=_("Text"), max_length=500)
