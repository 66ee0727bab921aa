"""The labeling loop's CPU per judgment with autopilot's training rules switched on and off.

Run by bench_labeling.py after its levels, in the same run (same gunicorn, same database, same
machine): one more seeded project gets a training rule (reward_pairwise every 1,000,000 labels: it
counts, and never fires, so the figure is the trigger path's cost and not training's), and a
checker process calls `apps.autopilot.rules.rules_check()`, the function the beat's
`autopilot.check_rules` task runs, every `--check-seconds` (1 s: ten times the default
ARBITER_AUTOPILOT_CHECK_SECONDS, a deliberately harsh setting) on its own persistent database
connection. Phases alternate off, on, on, off, off, on, ... on that project, so drift in the
machine's load falls on both sides: "off" switches the rule off (the checker finds nothing to
count), "on" switches it on. CPU per judgment is the load generator's, gunicorn's, PostgreSQL's
backends' (the checker's among them) and the checker process's, over the judgments stored in
the phase's window; the checker's own CPU is taken over the whole phase, warm-up included, which
counts against "on".

    python bench/labeling/rules_on_off.py checker --project <id> --every 1   (the checker)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULE_EVERY = 1_000_000


def _checker(project_id: int, every: float) -> None:
    """Makes the project's rule (switched off) on first start, then checks rules forever."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from apps.autopilot.models import TrainingRule
    from apps.autopilot.rules import rules_check
    from apps.autopilot.selectors import label_horizon
    from apps.projects.models import Project

    project = Project.objects.get(pk=project_id)
    if not TrainingRule.objects.filter(project=project).exists():
        # Made as training_rule_create makes it, less the launch check of its config (no model
        # is offered here, and the rule never reaches its threshold).
        watermark, horizon = label_horizon(project=project, floor=None)
        TrainingRule.objects.create(
            project=project, name="bench", objective="reward_pairwise", config={},
            every_labels=RULE_EVERY, enabled=False, created_by=project.created_by,
            label_watermark=watermark, label_floor=watermark, label_horizon=horizon,
        )  # fmt: skip
    print("ready", flush=True)
    while True:
        started = time.monotonic()
        rules_check()
        time.sleep(max(0.0, every - (time.monotonic() - started)))


def start_checker(*, project: int, every: float, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__)), "checker", "--project", str(project),
         "--every", str(every)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError("the rules checker did not start")
    return proc


def set_rules(pg_conn, *, project: int, on: bool) -> None:
    with pg_conn.cursor() as cur:
        cur.execute(
            "UPDATE autopilot_trainingrule SET enabled = %s WHERE project_id = %s", (on, project)
        )


def measure(*, bench, pairs: int, every: float, level_kwargs: dict, project: int, pg_conn) -> dict:
    """Interleaved phases; returns per-phase rows and the CPU ms per judgment of each side."""
    checker = start_checker(project=project, every=every, env=bench.app_env())
    phases = []
    try:
        order = []
        for i in range(pairs):
            order += [False, True] if i % 2 == 0 else [True, False]
        for on in order:
            set_rules(pg_conn, project=project, on=on)
            time.sleep(every * 1.5)  # the checker has seen the switch
            checker_before = bench.proc_cpu_s(checker.pid)
            result = bench.run_level(project=project, pg_conn=pg_conn, **level_kwargs)
            checker_cpu = bench.proc_cpu_s(checker.pid) - checker_before
            cpu = result["cpu_ms_per_judgment"]
            judgments = max(1, result["judgments"])
            row = {
                "rules": "on" if on else "off",
                "judgments": result["judgments"],
                "client": cpu["client"],
                "server": cpu["server"],
                "pg": cpu["pg"],
                "checker": checker_cpu * 1000 / judgments,
                "over_assigned": result["over_assigned"] + result["double_judged"],
                "errors": sum(result["errors"].values()),
            }
            row["total"] = row["client"] + row["server"] + row["pg"] + row["checker"]
            phases.append(row)
            print(
                f"[bench] rules {row['rules']:>3}: {row['judgments']} judgments, "
                f"{row['total']:.2f} CPU ms/judgment",
                flush=True,
            )
    finally:
        checker.terminate()
        checker.wait(timeout=30)
    summary = {}
    for side in ("off", "on"):
        rows = [r for r in phases if r["rules"] == side]
        judged = sum(r["judgments"] for r in rows)
        # Weighted by judgments: total CPU over total judgments of the side.
        summary[side] = sum(r["total"] * r["judgments"] for r in rows) / max(1, judged)
    return {"phases": phases, "off": summary["off"], "on": summary["on"], "every": every}


def report(result: dict) -> None:
    print()
    print(
        f"Training rules on vs off (interleaved phases on one project; a checker runs "
        f"rules_check() every {result['every']:g} s; CPU ms per judgment)"
    )
    print(f"{'rules':>5} {'judgments':>9} {'client':>7} {'server':>7} {'pg':>6} {'checker':>8} "
          f"{'total':>7}")  # fmt: skip
    for r in result["phases"]:
        print(
            f"{r['rules']:>5} {r['judgments']:>9} {r['client']:>7.2f} {r['server']:>7.2f} "
            f"{r['pg']:>6.2f} {r['checker']:>8.3f} {r['total']:>7.2f}"
        )
    change = (result["on"] / result["off"] - 1) * 100 if result["off"] else float("nan")
    print(
        f"rules_off_cpu_ms_per_judgment={result['off']:.2f} "
        f"rules_on_cpu_ms_per_judgment={result['on']:.2f} rules_on_change_pct={change:+.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_checker = sub.add_parser("checker")
    p_checker.add_argument("--project", type=int, required=True)
    p_checker.add_argument("--every", type=float, default=1.0)
    args = parser.parse_args()
    _checker(args.project, args.every)
