"""Export options: parsed once, kept in a normal form (every key present) so that a snapshot
records exactly what produced it. Pure: no database."""

from dataclasses import asdict, dataclass

from apps.core.errors import ApplicationError
from apps.exports.models import ExportKind
from apps.projects.models import FeedbackKind

FORMATS = ("jsonl", "parquet")
FORMS = ("standard", "conversational")
SUBSETS = ("all", "train", "test")

# How the judgments of one task become one row (see apps/exports/aggregate.py).
AGGREGATES_BY_KIND: dict[str, tuple[str, ...]] = {
    ExportKind.PAIRS: ("none", "majority", "mean_strength", "bradley_terry"),
    ExportKind.HINDSIGHT_PAIRS: ("none", "majority", "mean_strength", "bradley_terry"),
    ExportKind.UNPAIRED: ("none", "majority"),
    ExportKind.PRINCIPLES: ("none", "majority"),
    ExportKind.LISTWISE: ("none", "mean_rank"),
    ExportKind.HINDSIGHT: ("none",),
    ExportKind.REACTIONS: ("none",),
    ExportKind.RAW: ("none",),
    ExportKind.SFT: ("none",),
    ExportKind.SFT_MESSAGES: ("none",),
    ExportKind.EDIT_PAIRS: ("none",),
}

# What annotators write (rewrites in any judging kind, demonstrations) leaves as SFT rows, and a
# rewrite also as an edit-beats-original pair. Offered whether or not rewrite mode is on now: a
# project that collected rewrites and then turned the mode off still exports them.
_WRITTEN = (ExportKind.SFT, ExportKind.SFT_MESSAGES, ExportKind.EDIT_PAIRS)

# Which exports a project of each feedback kind can produce.
KINDS_BY_PROJECT_KIND: dict[str, tuple[str, ...]] = {
    FeedbackKind.PAIRWISE: (ExportKind.PAIRS, ExportKind.RAW, *_WRITTEN),
    FeedbackKind.HINDSIGHT: (
        ExportKind.HINDSIGHT_PAIRS,
        ExportKind.HINDSIGHT,
        ExportKind.RAW,
        *_WRITTEN,
    ),
    FeedbackKind.THUMBS: (ExportKind.UNPAIRED, ExportKind.RAW, *_WRITTEN),
    FeedbackKind.PRINCIPLES: (
        ExportKind.PRINCIPLES,
        ExportKind.UNPAIRED,
        ExportKind.RAW,
        *_WRITTEN,
    ),
    FeedbackKind.LISTWISE: (ExportKind.LISTWISE, ExportKind.RAW, *_WRITTEN),
    FeedbackKind.CHAT: (ExportKind.REACTIONS, ExportKind.UNPAIRED),
    FeedbackKind.DEMONSTRATION: (ExportKind.SFT, ExportKind.SFT_MESSAGES, ExportKind.RAW),
}


class InvalidExport(ApplicationError):
    status = 400


@dataclass(frozen=True)
class ExportOptions:
    """format: "jsonl" or "parquet".
    form: "standard" (prompt and completions are strings; a multi-turn prompt is flattened
        to "role: content" lines) or "conversational" (prompt is a list of messages, each
        completion a one-message list [{"role": "assistant", "content": ...}]), as in TRL.
    aggregate: "none" (one row per judgment) or a per-task aggregate allowed for the kind.
    split: share of prompts (0 <= split < 1) put in the test side; 0 = no split column.
    split_seed: seeds the prompt hash, so a different seed draws a different test set.
    subset: "all", or only the "train" / "test" side of the split.
    include_judges: pairs exports only: add the project's LLM judges' pairs (apps/judges), one
        row per judge and task whose two orders agree, with `source` and `weight` columns
        (people's rows: "people", weight 1). Off by default: judges never leave unasked.
    judges_weight: the weight of a judge's row, above 0 and at most 1 (a person's is 1)."""

    format: str = "jsonl"
    form: str = "standard"
    aggregate: str = "none"
    split: float = 0.0
    split_seed: int = 0
    subset: str = "all"
    include_judges: bool = False
    judges_weight: float = 1.0

    def normal(self) -> dict:
        normal = asdict(self)
        if not self.include_judges:  # what people-only exports recorded before judges existed
            normal.pop("include_judges")
            normal.pop("judges_weight")
        return normal


def export_kinds_for(project_kind: str) -> tuple[str, ...]:
    return KINDS_BY_PROJECT_KIND.get(project_kind, ())


def parse_export_options(*, kind: str, project_kind: str, data: dict | None) -> ExportOptions:
    """Options in normal form, or `InvalidExport` saying what is wrong."""
    data = dict(data or {})
    if kind not in ExportKind.values:
        raise InvalidExport(f"Unknown export kind {kind!r}; one of {', '.join(ExportKind.values)}.")
    if kind not in export_kinds_for(project_kind):
        raise InvalidExport(
            f"A {project_kind} project has no {kind} export; it has "
            f"{', '.join(export_kinds_for(project_kind)) or 'none'}."
        )
    unknown = set(data) - set(ExportOptions.__dataclass_fields__)
    if unknown:
        raise InvalidExport(f"Unknown export option(s): {', '.join(sorted(unknown))}.")
    fmt = data.get("format") or "jsonl"
    if fmt not in FORMATS:
        raise InvalidExport(f"format must be one of {', '.join(FORMATS)}.")
    form = data.get("form") or "standard"
    if form not in FORMS:
        raise InvalidExport(f"form must be one of {', '.join(FORMS)}.")
    aggregate = data.get("aggregate") or "none"
    if aggregate not in AGGREGATES_BY_KIND[kind]:
        raise InvalidExport(
            f"A {kind} export aggregates by {', '.join(AGGREGATES_BY_KIND[kind])}, not {aggregate!r}."
        )
    try:
        split = float(data.get("split") or 0.0)
        split_seed = int(data.get("split_seed") or 0)
    except (TypeError, ValueError):
        raise InvalidExport("split must be a number and split_seed a whole number.") from None
    if not 0.0 <= split < 1.0:
        raise InvalidExport("split is the test share of prompts: at least 0 and below 1.")
    subset = data.get("subset") or "all"
    if subset not in SUBSETS:
        raise InvalidExport(f"subset must be one of {', '.join(SUBSETS)}.")
    if subset != "all" and split == 0.0:
        raise InvalidExport(f"subset {subset!r} needs a split above 0.")
    include_judges, judges_weight = _judges_options(kind, aggregate, data)
    return ExportOptions(
        format=fmt,
        form=form,
        aggregate=aggregate,
        split=split,
        split_seed=split_seed,
        subset=subset,
        include_judges=include_judges,
        judges_weight=judges_weight,
    )


def _judges_options(kind: str, aggregate: str, data: dict) -> tuple[bool, float]:
    include = data.get("include_judges") in (True, "true", "True", "1", 1, "on")
    try:
        weight = float(data.get("judges_weight") or 1.0)
    except (TypeError, ValueError):
        raise InvalidExport("judges_weight must be a number.") from None
    if not include:
        return False, 1.0
    if kind not in (ExportKind.PAIRS, ExportKind.HINDSIGHT_PAIRS):
        raise InvalidExport("Judges' labels are exported as pairs only.")
    if aggregate != "none":
        raise InvalidExport("Judges' pairs are rows of their own: use aggregate none.")
    if not 0.0 < weight <= 1.0:
        raise InvalidExport("judges_weight must be above 0 and at most 1.")
    return True, weight
