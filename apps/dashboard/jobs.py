"""Every background job of a project, of every kind, in one list: a read of the job layer's
registered kinds (training runs, generation jobs, exports, imports, dataset imports, webhook
deliveries, and whatever registers later), unioned in SQL — one query for a page, one to count."""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import CharField, F, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.http import Http404
from django.urls import reverse

from apps.core.jobs import Job, JobKind, JobStatus, JobTimes, job_kinds

# How a kind's rows reach their project, and a line saying what each job is. A kind not named
# here is listed too, reached through its `project` field, without the line.
PROJECT_PATH = {"webhooks.WebhookDelivery": "endpoint__project"}
SUMMARY = {
    "training.TrainingRun": lambda: _join(F("objective"), Value(" "), F("name")),
    "generation.GenerationJob": lambda: F("kind"),
    "exports.ExportJob": lambda: _join(F("kind"), Value(" · "), F("format")),
    "exports.DatasetImport": lambda: F("original_name"),
    "imports.ImportJob": lambda: F("original_name"),
    "webhooks.WebhookDelivery": lambda: _join(F("event"), Value(" → "), F("endpoint__url")),
    "judges.JudgeJob": lambda: _join(Value("judge "), F("judge__name")),
}


def _join(*parts) -> Concat:
    return Concat(*parts, output_field=CharField())


# The page of a kind's job, where it has one (its URL name, taking the job's id).
DETAIL_URL = {
    "training.trainingrun": "training:detail",
    "generation.generationjob": "generation:detail",
    "imports.importjob": "imports:detail",
    "exports.datasetimport": "exports:import-detail",
    "judges.judgejob": "judges:job",
}

COLUMNS = (
    "j_kind",
    "j_id",
    "j_summary",
    "j_status",
    "j_attempts",
    "j_max_attempts",
    "j_worker",
    "j_error",
    "j_cancel_requested_at",
    "j_created_at",
    "j_started_at",
    "j_finished_at",
)


@dataclass(frozen=True)
class JobRow(JobTimes):
    kind: str  # the model's label_lower, e.g. "training.trainingrun": the key in URLs
    kind_name: str
    id: int
    summary: str
    status: str
    attempts: int
    max_attempts: int
    worker: str
    error: str
    cancel_requested_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def duration_text(self) -> str:
        if self.duration is None:
            return ""
        seconds = int(self.duration.total_seconds())
        hours, rest = divmod(seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        if hours:
            return f"{hours} h {minutes:02d} min"
        return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"

    @property
    def detail_url(self) -> str | None:
        name = DETAIL_URL.get(self.kind)
        return reverse(name, args=[self.id]) if name else None

    @property
    def can_retry(self) -> bool:
        return self.status in (JobStatus.FAILED, JobStatus.CANCELLED)

    @property
    def can_cancel(self) -> bool:
        return not self.is_finished and self.cancel_requested_at is None


def _kinds() -> dict[str, JobKind]:
    return {kind.model._meta.label_lower: kind for kind in job_kinds()}


def job_kind_names() -> dict[str, str]:
    """{kind key: "Training run", ...} for every registered kind."""
    return {key: _name(kind.model) for key, kind in sorted(_kinds().items())}


def _name(model: type[Job]) -> str:
    return str(model._meta.verbose_name).capitalize()


def _of_project(kind: JobKind, project_id: int) -> QuerySet:
    path = PROJECT_PATH.get(kind.label, "project")
    return kind.model.objects.filter(**{f"{path}_id": project_id})


def _columns(kind: JobKind, queryset: QuerySet) -> QuerySet:
    text = CharField()
    summary = SUMMARY.get(kind.label, lambda: Value(""))()
    return queryset.annotate(
        j_kind=Value(kind.model._meta.label_lower, output_field=text),
        j_id=F("id"),
        j_summary=Cast(summary, output_field=text),
        j_status=F("status"),
        j_attempts=F("attempts"),
        j_max_attempts=F("max_attempts"),
        j_worker=F("worker"),
        j_error=F("error"),
        j_cancel_requested_at=F("cancel_requested_at"),
        j_created_at=F("created_at"),
        j_started_at=F("started_at"),
        j_finished_at=F("finished_at"),
    ).values(*COLUMNS)


ORDER = ("-j_created_at", "-j_kind", "-j_id")


class ProjectJobs:
    """The jobs of a project as a list Django's Paginator (and DRF's) can count and slice: the
    count is one SQL union; a page is another, whose parts each bring only the newest rows the
    page could need, where the database takes a limit inside a union (PostgreSQL does)."""

    ordered = True  # for the Paginator: the rows come newest first

    def __init__(self, parts: list[QuerySet]):
        self.parts = parts

    @staticmethod
    def _union(parts: list[QuerySet]) -> QuerySet:
        first, *rest = parts
        return first.union(*rest, all=True) if rest else first

    def count(self) -> int:
        return self._union(self.parts).count() if self.parts else 0

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, item: slice) -> list[dict]:
        if not isinstance(item, slice):
            return self[item : item + 1][0]
        if not self.parts or (item.stop is not None and item.stop <= (item.start or 0)):
            # An empty slice (a page of no jobs) must not reach the union: Django turns a part
            # sliced to nothing into an empty queryset, which union() hands back still sliced.
            return []
        parts = self.parts
        if len(parts) == 1:
            # One kind: no union, and a sliced queryset cannot be ordered again.
            return list(parts[0].order_by(*ORDER)[item])
        if item.stop is not None and connection.features.supports_slicing_ordering_in_compound:
            parts = [part.order_by(*ORDER)[: item.stop] for part in parts]
        return list(self._union(parts).order_by(*ORDER)[item])


def project_jobs(
    *, project_id: int, status: str | None = None, kind: str | None = None
) -> ProjectJobs:
    """The project's jobs of every kind (or of one), newest first, as rows of `COLUMNS`, to
    count or slice (a page). `status` keeps one state."""
    parts = []
    for key, job_kind in sorted(_kinds().items()):
        if kind and key != kind:
            continue
        queryset = _of_project(job_kind, project_id)
        if status:
            queryset = queryset.filter(status=status)
        parts.append(_columns(job_kind, queryset.order_by()))
    return ProjectJobs(parts)


def job_rows(values: list[dict]) -> list[JobRow]:
    names = {key: _name(kind.model) for key, kind in _kinds().items()}
    return [
        JobRow(
            kind_name=names.get(value["j_kind"], value["j_kind"]),
            **{column.removeprefix("j_"): value[column] for column in COLUMNS},
        )
        for value in values
    ]


def project_job_get(*, project_id: int, kind: str, job_id: int) -> tuple[type[Job], Job]:
    """The job of this kind and id, if it belongs to the project; otherwise 404 (another
    project's job is indistinguishable from a missing one)."""
    job_kind = _kinds().get(kind)
    job = _of_project(job_kind, project_id).filter(pk=job_id).first() if job_kind else None
    if job is None:
        raise Http404("No such job.")
    return job_kind.model, job
