"""python manage.py export_dataset --project ID --kind pairs --format jsonl --out FILE
    [--aggregate majority] [--form conversational] [--split 0.1 [--split-seed 0]] [--snapshot]

With --split, two files are written next to FILE: <stem>.train<ext> and <stem>.test<ext>
(prompts are hashed to a side, so no prompt is in both). With --snapshot, the export is also
frozen as a snapshot (content-hashed, stored under MEDIA_ROOT) and its id and sha256 printed.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import ApplicationError
from apps.exports.files import export_write
from apps.exports.models import ExportFormat, ExportKind
from apps.exports.options import AGGREGATES_BY_KIND, FORMS, parse_export_options
from apps.exports.services import snapshot_create
from apps.projects.models import Project


class Command(BaseCommand):
    help = "Export a project's feedback as a dataset in TRL's column names (JSONL or Parquet)."

    def add_arguments(self, parser):
        parser.add_argument("--project", type=int, required=True, help="Project id.")
        parser.add_argument("--kind", required=True, choices=ExportKind.values)
        parser.add_argument("--format", default="jsonl", choices=ExportFormat.values)
        parser.add_argument("--out", required=True, help="Output file.")
        parser.add_argument(
            "--aggregate",
            default="none",
            choices=sorted({a for v in AGGREGATES_BY_KIND.values() for a in v}),
            help="none: a row per judgment; otherwise a row per task.",
        )
        parser.add_argument("--form", default="standard", choices=FORMS)
        parser.add_argument("--split", type=float, default=0.0, help="Test share of prompts.")
        parser.add_argument("--split-seed", type=int, default=0)
        parser.add_argument("--snapshot", action="store_true", help="Also store it as a snapshot.")

    def handle(self, *args, **opts):
        project = Project.objects.filter(pk=opts["project"]).first()
        if project is None:
            raise CommandError(f"No project {opts['project']}.")
        base = {
            "format": opts["format"],
            "form": opts["form"],
            "aggregate": opts["aggregate"],
            "split": opts["split"],
            "split_seed": opts["split_seed"],
        }
        out = Path(opts["out"])
        if opts["split"]:
            targets = [
                (out.with_name(f"{out.stem}.{side}{out.suffix}"), {**base, "subset": side})
                for side in ("train", "test")
            ]
        else:
            targets = [(out, base)]
        try:
            for path, data in targets:
                options = parse_export_options(
                    kind=opts["kind"], project_kind=project.kind, data=data
                )
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("w+b") as handle:
                    written = export_write(
                        project=project, kind=opts["kind"], options=options, out=handle
                    )
                stats = written.stats.as_dict()
                self.stdout.write(
                    f"{path}: {stats['rows']} rows, {written.size_bytes} bytes, "
                    f"sha256 {written.sha256}; skipped {json.dumps(stats['skipped'])}"
                )
            if opts["snapshot"]:
                snapshot = snapshot_create(
                    project=project, kind=opts["kind"], options=base, user=None
                )
                self.stdout.write(f"snapshot {snapshot.pk}: sha256 {snapshot.sha256}")
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
