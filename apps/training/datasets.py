"""Which labels each objective trains on, and the train / held-out files a run reads. The split is
the snapshot's own (by prompt), so no prompt is ever on both sides."""

import json
from pathlib import Path

from apps.exports.models import ExportKind, Snapshot
from apps.projects.models import FeedbackKind

# objective dataset kind -> project kind -> export kind that carries it
EXPORT_FOR: dict[str, dict[str, str]] = {
    "pairwise": {
        FeedbackKind.PAIRWISE: ExportKind.PAIRS,
        FeedbackKind.HINDSIGHT: ExportKind.HINDSIGHT_PAIRS,
    },
    "unpaired_binary": {
        FeedbackKind.THUMBS: ExportKind.UNPAIRED,
        FeedbackKind.PRINCIPLES: ExportKind.UNPAIRED,
        FeedbackKind.CHAT: ExportKind.UNPAIRED,
    },
    "listwise": {FeedbackKind.LISTWISE: ExportKind.LISTWISE},
    "principles": {FeedbackKind.PRINCIPLES: ExportKind.PRINCIPLES},
    "reactions": {FeedbackKind.CHAT: ExportKind.REACTIONS},
    # Demonstrations and rewrites: what annotators wrote, as prompt and completion.
    "sft": {
        FeedbackKind.DEMONSTRATION: ExportKind.SFT,
        FeedbackKind.PAIRWISE: ExportKind.SFT,
        FeedbackKind.LISTWISE: ExportKind.SFT,
        FeedbackKind.THUMBS: ExportKind.SFT,
        FeedbackKind.PRINCIPLES: ExportKind.SFT,
        FeedbackKind.HINDSIGHT: ExportKind.SFT,
    },
    # RAFT needs prompts only: any export with a `prompt` column serves.
    "prompts": {
        FeedbackKind.PAIRWISE: ExportKind.PAIRS,
        FeedbackKind.HINDSIGHT: ExportKind.HINDSIGHT_PAIRS,
        FeedbackKind.LISTWISE: ExportKind.LISTWISE,
        FeedbackKind.THUMBS: ExportKind.UNPAIRED,
        FeedbackKind.PRINCIPLES: ExportKind.PRINCIPLES,
        FeedbackKind.CHAT: ExportKind.UNPAIRED,
    },
}

# Export columns that the trainer reads under another name.
_RENAMES = {"conversation": "prompt"}


def export_kind_for(*, dataset_kind: str, project_kind: str) -> str | None:
    return EXPORT_FOR.get(dataset_kind, {}).get(project_kind)


def split_snapshot(
    *, snapshot: Snapshot, snapshot_path: Path, out_dir: Path
) -> tuple[Path, Path, int, int]:
    """Writes train.jsonl and eval.jsonl from the snapshot's `split` column; returns the paths and
    row counts. Rewriting gives the same files, so a resumed run reads what it started with."""
    out_dir.mkdir(parents=True, exist_ok=True)
    train_path, eval_path = out_dir / "train.jsonl", out_dir / "eval.jsonl"
    counts = {"train": 0, "test": 0}
    with (
        snapshot_path.open("rb") as source,
        train_path.open("w") as train,
        eval_path.open("w") as held_out,
    ):
        for raw in source:
            if not raw.strip():
                continue
            row = json.loads(raw)
            side = row.pop("split", "train")
            row = {_RENAMES.get(key, key): value for key, value in row.items()}
            (held_out if side == "test" else train).write(
                json.dumps(row, ensure_ascii=False) + "\n"
            )
            counts[side] += 1
    return train_path, eval_path, counts["train"], counts["test"]
