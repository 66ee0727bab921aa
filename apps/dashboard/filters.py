"""The label-review filters: which judgments an admin is looking at."""

from django import forms
from django.db.models import Count, Exists, F, OuterRef
from django.db.models.fields.json import KT
from django.utils.translation import gettext_lazy as _

from apps.feedback.models import Judgment
from apps.labeling.models import Flag
from apps.projects.models import Project

YES_NO = [("", _("any")), ("1", _("yes")), ("0", _("no"))]


class JudgmentFilterForm(forms.Form):
    annotator = forms.ChoiceField(label=_("Annotator"), required=False)
    phase = forms.ChoiceField(
        label=_("Phase"),
        required=False,
        choices=[
            ("", _("any")),
            ("main", "main"),
            ("foresight", "foresight"),
            ("hindsight", "hindsight"),
        ],
    )
    gold = forms.ChoiceField(label=_("Gold"), required=False, choices=YES_NO)
    flagged = forms.ChoiceField(label=_("Flagged"), required=False, choices=YES_NO)
    excluded = forms.ChoiceField(label=_("Excluded"), required=False, choices=YES_NO)
    disagreement = forms.ChoiceField(
        required=False, choices=YES_NO, label=_("On tasks with disagreement")
    )


class JudgmentFilter:
    def __init__(self, data, *, project: Project):
        self.project = project
        self.form = JudgmentFilterForm(data or None)
        members = project.memberships.select_related("user").order_by("user__username")
        self.form.fields["annotator"].choices = [("", _("anyone"))] + [
            (str(m.user_id), m.user.username) for m in members
        ]

    def queryset(self):
        qs = (
            Judgment.objects.filter(project=self.project)
            .select_related("annotator", "task")
            .order_by("-submitted_at", "-id")
        )
        if not self.form.is_valid():
            return qs
        data = self.form.cleaned_data
        if data["annotator"]:
            qs = qs.filter(annotator_id=int(data["annotator"]))
        if data["phase"]:
            qs = qs.filter(phase=data["phase"])
        if data["gold"]:
            qs = qs.filter(task__is_gold=data["gold"] == "1")
        if data["excluded"]:
            qs = qs.filter(excluded_at__isnull=data["excluded"] == "0")
        if data["flagged"]:
            flagged = Exists(Flag.objects.filter(task=OuterRef("task_id")))
            qs = qs.filter(flagged) if data["flagged"] == "1" else qs.exclude(flagged)
        if data["disagreement"]:
            # Tasks whose judgments give more than one distinct answer.
            answer = (
                KT("payload__choice")
                if self.project.kind in ("pairwise", "hindsight")
                else F("payload")
            )
            split = (
                Judgment.objects.filter(project=self.project, phase__in=["main", "hindsight"])
                .annotate(answer=answer)
                .values("task_id")
                .annotate(answers=Count("answer", distinct=True))
                .filter(answers__gt=1)
                .values("task_id")
            )
            qs = (
                qs.filter(task_id__in=split)
                if data["disagreement"] == "1"
                else qs.exclude(task_id__in=split)
            )
        return qs
