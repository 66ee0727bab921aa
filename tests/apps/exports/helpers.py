"""Shared builders for the export tests: judgments are written directly (the judging path has
its own tests), exports are read back with `datasets`."""

import json
from pathlib import Path

from apps.exports.datasets import dataset_build
from apps.exports.writers import write_jsonl
from apps.feedback.models import Judgment
from apps.labeling.models import Task


def judge(task: Task, annotator, payload: dict, *, phase: str = "main", **fields) -> Judgment:
    items = list(task.items.order_by("position").values_list("response_id", flat=True))
    judgment = Judgment.objects.create(
        project=task.project,
        task=task,
        annotator=annotator,
        kind=task.kind,
        phase=phase,
        payload=payload,
        display_order=items[::-1],
        duration_ms=1200,
        **fields,
    )
    if phase != "foresight":
        Task.objects.filter(pk=task.pk).update(judgment_count=task.judgments.count())
    return judgment


def export_rows(project, kind: str, **options) -> tuple[list[dict], dict]:
    """The export as a list of dicts (through the JSONL writer) and its stats."""
    import io

    dataset = dataset_build(project=project, kind=kind, options=options)
    buffer = io.BytesIO()
    write_jsonl(dataset.columns, dataset.rows, buffer)
    lines = buffer.getvalue().decode().splitlines()
    return [json.loads(line) for line in lines], dataset.stats.as_dict()


def write_export(project, kind: str, path: Path, **options) -> Path:
    from apps.exports.files import export_write
    from apps.exports.options import parse_export_options

    parsed = parse_export_options(kind=kind, project_kind=project.kind, data=options)
    with path.open("w+b") as out:
        export_write(project=project, kind=kind, options=parsed, out=out)
    return path


def load_hf(path: Path):
    """The file as a `datasets` Dataset (its train split), as a trainer would load it."""
    import datasets

    builder = "parquet" if path.suffix == ".parquet" else "json"
    return datasets.load_dataset(
        builder, data_files=str(path), split="train", cache_dir=str(path.parent / "hf-cache")
    )
