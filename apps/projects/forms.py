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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.tasks.exists():
            # A disabled field keeps its stored value whatever is posted (project_update checks too).
            self.fields["kind"].disabled = True
            self.fields["kind"].help_text = "Fixed: the project already has tasks of this kind."
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
            raise forms.ValidationError("A share between 0 and 1, e.g. 0.8.")
        return value


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)


class PrincipleForm(forms.Form):
    key = forms.SlugField(
        max_length=80, help_text=_("A short stable name, e.g. answers-the-question.")
    )
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Plain language, answerable yes or no."),
    )


class RubricItemForm(forms.Form):
    text = forms.CharField(max_length=500)
