"""Every Celery task of the project survives a worker that dies: its message is acknowledged only
after the task ran (acks_late), and goes back to the queue when the pool process running it is
killed (reject_on_worker_lost) — the task itself being safe to run twice."""

import pytest

from config.celery import app


def project_tasks():
    app.loader.import_default_modules()
    return sorted(
        (name, task) for name, task in app.tasks.items() if not name.startswith("celery.")
    )


def test_the_project_has_its_tasks_registered():
    names = [name for name, _ in project_tasks()]
    assert {"training.run", "generation.run_job", "exports.run_export", "core.reap_jobs"} <= set(
        names
    )


@pytest.mark.parametrize(("name", "task"), project_tasks())
def test_every_task_is_acknowledged_late_and_requeued_when_its_worker_is_lost(name, task):
    assert task.acks_late is True, name
    assert task.reject_on_worker_lost is True, name


def test_the_beat_runs_one_reaper_for_every_kind_of_job(settings):
    reapers = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "core.reap_jobs"]
    assert reapers == [{"task": "core.reap_jobs", "schedule": 60.0}]
