"""Moving the import kinds onto the job layer keeps every row: old statuses map onto the job's
life, a stuck "validating"/"writing" import becomes a running job the reaper will queue again."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import ProjectFactory, StaffFactory

pytestmark = pytest.mark.django_db(transaction=True)

KINDS = [
    ("imports", "ImportJob", "0001_initial", {"pair_strategy": "all", "max_pairs_per_prompt": 5}),
    ("exports", "DatasetImport", "0003_exportjob_on_the_job_layer", {}),
]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.parametrize(("app", "model", "before", "extra"), KINDS, ids=[k[1] for k in KINDS])
def test_old_import_statuses_become_job_states_and_keep_their_rows(app, model, before, extra):
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    try:
        old = migrate([(app, before)]).get_model(app, model)
        for status, error_count in [
            ("queued", 0), ("validating", 0), ("writing", 0), ("succeeded", 0), ("failed", 3),
        ]:  # fmt: skip
            old.objects.create(
                project_id=project.pk,
                created_by_id=admin.pk,
                file=f"{status}.jsonl",
                original_name=status,
                status=status,
                error_count=error_count,
                **extra,
            )
    finally:  # whatever happened, the database goes back to the latest schema
        new = migrate(MigrationExecutor(connection).loader.graph.leaf_nodes()).get_model(app, model)

    rows = {
        job.original_name: (job.status, job.phase, job.heartbeat_at, job.error)
        for job in new.objects.all()
    }
    assert rows == {
        "queued": ("queued", "", None, ""),
        "validating": ("running", "validating", None, ""),
        "writing": ("running", "writing", None, ""),
        "succeeded": ("succeeded", "", None, ""),
        "failed": ("failed", "", None, "3 lines had errors; nothing was imported."),
    }
    assert all(job.queued_at == job.created_at for job in new.objects.all())
