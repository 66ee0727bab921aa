"""What the export kinds share: row order, the leading fields, the per-judgment columns."""

from apps.exports.datasets import enriched_judgments
from apps.exports.selectors import judgments_for_export
from apps.exports.writers import Column
from apps.feedback.models import Phase
from apps.projects.models import Project

ORDER = ("task__prompt_id", "task_id", "id")
BASE_FIELDS = ("id", "task_id", "task__prompt_id", "annotator_id")


def per_judgment_columns(aggregate: str, *votes: str) -> list[Column]:
    if aggregate == "none":
        return [Column("judgment_id", "int"), Column("annotator_id", "int")]
    return [Column("n_judgments", "int"), *(Column(v, "int") for v in votes)]


def payload_stream(project: Project, form: str, *, phase: str = Phase.MAIN):
    queryset = judgments_for_export(project=project).filter(phase=phase).order_by(*ORDER)
    return enriched_judgments(queryset, (*BASE_FIELDS, "payload"), form=form)
