"""The dataset card written with every snapshot: a README.md in the Hugging Face dataset-card
format (YAML front matter, then Markdown) that says what the file holds and how far its labels can
be trusted, as the project stood when the snapshot was frozen."""

from dataclasses import dataclass

import yaml
from django.conf import settings

from apps.exports.models import ExportKind, Snapshot
from apps.exports.selectors import judgments_for_export
from apps.feedback.models import Judgment
from apps.projects.models import Membership
from apps.quality.selectors import annotator_quality_table

# Hugging Face's task categories for each export kind.
TASK_CATEGORIES = {
    ExportKind.PAIRS: ["text-generation", "reinforcement-learning"],
    ExportKind.HINDSIGHT_PAIRS: ["text-generation", "reinforcement-learning"],
    ExportKind.EDIT_PAIRS: ["text-generation", "reinforcement-learning"],
    ExportKind.LISTWISE: ["text-generation", "reinforcement-learning"],
    ExportKind.UNPAIRED: ["text-classification", "reinforcement-learning"],
    ExportKind.PRINCIPLES: ["text-classification"],
    ExportKind.SFT: ["text-generation"],
    ExportKind.SFT_MESSAGES: ["text-generation"],
}
DEFAULT_TASK_CATEGORIES = ["text-generation"]
SIZE_CATEGORIES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
]


@dataclass(frozen=True)
class CardFacts:
    """What the card states, read from the project when the snapshot is frozen."""

    annotators: int
    alpha: float | None
    alpha_level: str
    alpha_units: int
    alpha_description: str
    gold_correct: int
    gold_total: int
    excluded_judgments: int
    uncounted_annotators: int

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_total if self.gold_total else None


def card_facts(*, snapshot: Snapshot) -> CardFacts:
    project = snapshot.project
    report = annotator_quality_table(project=project)
    annotators = (
        judgments_for_export(project=project)
        .filter(annotator__isnull=False)
        .values("annotator_id")
        .distinct()
        .count()
    )
    uncounted = set(
        Membership.objects.uncounted().filter(project=project).values_list("user_id", flat=True)
    )
    counted_rows = [row for row in report.annotators if row.membership.user_id not in uncounted]
    return CardFacts(
        annotators=annotators,
        alpha=report.agreement.alpha,
        alpha_level=report.agreement.level,
        alpha_units=report.agreement.units,
        alpha_description=report.agreement.description,
        gold_correct=sum(row.gold_correct for row in counted_rows),
        gold_total=sum(row.gold_total for row in counted_rows),
        excluded_judgments=Judgment.objects.filter(
            project=project, excluded_at__isnull=False
        ).count(),
        uncounted_annotators=len(uncounted),
    )


def _size_category(rows: int) -> str:
    for limit, name in SIZE_CATEGORIES:
        if rows < limit:
            return name
    return "n>1M"


def _front_matter(snapshot: Snapshot) -> dict:
    return {
        "license": settings.ARBITER_DATASET_LICENSE,
        # One line: a line break in the name could end the front matter early.
        "pretty_name": f"{' '.join(snapshot.project.name.split())} ({snapshot.kind!s})",
        "task_categories": TASK_CATEGORIES.get(snapshot.kind, DEFAULT_TASK_CATEGORIES),
        "size_categories": [_size_category(snapshot.row_count)],
        "tags": ["arbiter", "human-feedback", str(snapshot.kind)],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": snapshot.file_name}],
            }
        ],
    }


def _number(value: float | None, places: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{places}f}"


def _code(text: object) -> str:
    """Inline code that a backtick in `text` cannot close early."""
    text = str(text).replace("\n", " ")
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def dataset_card(*, snapshot: Snapshot, facts: CardFacts) -> str:
    """The card's text (README.md) for the snapshot, from the facts read at freezing time."""
    project = snapshot.project
    counts = snapshot.row_counts or {}
    skipped = counts.get("skipped") or {}
    lines = [
        "---",
        yaml.safe_dump(_front_matter(snapshot), sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# {_code(project.name)}: {ExportKind(snapshot.kind).label}",
        "",
        f"Exported from Arbiter project {project.pk} on {snapshot.created_at:%Y-%m-%d %H:%M} UTC.",
        "",
        "## Data",
        "",
        f"- Feedback kind: {_code(project.kind)} ({project.get_kind_display()})",
        f"- Export kind: {_code(snapshot.kind)}",
        f"- File: {_code(snapshot.file_name)} ({snapshot.format}, {snapshot.size_bytes} bytes)",
        f"- Rows: {snapshot.row_count} (train side {counts.get('train', 0)},"
        f" test side {counts.get('test', 0)})",
        "",
        "| column |",
        "|---|",
        *(f"| {_code(column)} |" for column in snapshot.columns),
        "",
        "## Annotation",
        "",
        f"- Annotators whose judgments may be exported: {facts.annotators}",
        f"- Krippendorff's α: {_number(facts.alpha)} ({facts.alpha_level};"
        f" {facts.alpha_description}; {facts.alpha_units} units judged at least twice)",
        f"- Gold accuracy: {_number(facts.gold_accuracy)}"
        f" ({facts.gold_correct} of {facts.gold_total} gold judgments by counted annotators match"
        " the answer; gold tasks are never exported)",
        "",
        "## Exclusions",
        "",
        f"- Judgments excluded by an admin: {facts.excluded_judgments}",
        f"- Annotators whose labels do not count (excluded, or not qualified):"
        f" {facts.uncounted_annotators}",
        *(
            [f"- Rows left out of this file: {_code(reason)}: {n}" for reason, n in skipped.items()]
            or ["- Rows left out of this file: none"]
        ),
        "",
        "## Export options",
        "",
        "| option | value |",
        "|---|---|",
        *(f"| {_code(key)} | {_code(value)} |" for key, value in snapshot.options.items()),
        "",
        "## Content hash",
        "",
        f"sha256 of the file's bytes: {_code(snapshot.sha256)}. The same data exported with the"
        " same options gives the same bytes, hence the same hash.",
        "",
    ]
    return "\n".join(lines)
