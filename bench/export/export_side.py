"""The benchmark's export step, run in a fresh process with DATABASE_URL set, so that its peak
resident memory is this export's alone:

    python bench/export/export_side.py --project ID --out FILE [--kind pairs]

Streams the export as `apps.exports.files.jsonl_stream` does (what the JSONL download sends)
into FILE and prints one JSON object: rows, seconds, rows_per_s, peak_mb, baseline_mb, and the
CPU seconds spent by this process (cpu_s) and by its PostgreSQL backend (db_cpu_s).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from apps.exports.datasets import dataset_build  # noqa: E402
from apps.exports.files import read_transaction  # noqa: E402
from apps.exports.options import parse_export_options  # noqa: E402
from apps.exports.writers import jsonl_blocks  # noqa: E402
from apps.projects.models import Project  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process on this machine, from /proc."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--kind", default="pairs")
    args = parser.parse_args()

    project = Project.objects.get(pk=args.project)
    options = parse_export_options(kind=args.kind, project_kind=project.kind, data={})
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    baseline = rss_mb()
    own_cpu, db_cpu = cpu_seconds(os.getpid()), cpu_seconds(backend)
    started = time.perf_counter()
    size = 0
    # The body of apps.exports.files.jsonl_stream, spelt out to read the stats at the end.
    with read_transaction(), open(args.out, "wb") as out:
        dataset = dataset_build(project=project, kind=args.kind, options=options)
        for block in jsonl_blocks(dataset.columns, dataset.rows):
            out.write(block)
            size += len(block)
    seconds = time.perf_counter() - started
    own_cpu, db_cpu = cpu_seconds(os.getpid()) - own_cpu, cpu_seconds(backend) - db_cpu
    with open(args.out, "rb") as handle:
        rows = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": round(seconds, 3),
                "rows_per_s": rows / seconds,
                "mb_written": size / 2**20,
                "cpu_s": round(own_cpu, 2),
                "db_cpu_s": round(db_cpu, 2),
                "peak_mb": peak,
                "baseline_mb": baseline,
                "skipped": dataset.stats.as_dict()["skipped"],
            }
        )
    )


if __name__ == "__main__":
    main()
