from django import forms

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


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)


class PrincipleForm(forms.Form):
    key = forms.SlugField(
        max_length=80, help_text="A short stable name, e.g. answers-the-question."
    )
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="Plain language, answerable yes or no."
    )


class RubricItemForm(forms.Form):
    text = forms.CharField(max_length=500)
