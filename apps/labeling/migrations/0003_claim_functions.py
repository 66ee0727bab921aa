"""PostgreSQL functions the one-statement claim (apps/labeling/sql.py) calls for counts
that must be read after a row lock is taken. A VOLATILE plpgsql function takes a new snapshot
for each of its queries (READ COMMITTED), so it sees a lease committed by the claimer that held
the lock before this one; the claim statement's own snapshot, taken at its start, would not.
Nothing to do on SQLite, whose path stays the ORM's."""

from django.db import migrations

FUNCTIONS = """
CREATE OR REPLACE FUNCTION labeling_slots_taken(p_task bigint, p_at timestamptz)
RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
DECLARE taken integer;
BEGIN
    SELECT t.judgment_count + (
        SELECT count(*) FROM labeling_assignment a
        WHERE a.task_id = p_task AND a.status = 'active' AND a.expires_at > p_at
    ) INTO taken FROM labeling_task t WHERE t.id = p_task;
    RETURN taken;
END $$;

CREATE OR REPLACE FUNCTION labeling_tasks_taken(
    p_project bigint, p_annotator bigint, p_at timestamptz, p_after bigint
) RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
DECLARE taken integer;
BEGIN
    SELECT count(*) INTO taken FROM labeling_assignment a
    WHERE a.project_id = p_project AND a.annotator_id = p_annotator
      AND (a.status = 'submitted' OR (a.status = 'active' AND a.expires_at > p_at));
    RETURN taken;
END $$;

CREATE OR REPLACE FUNCTION labeling_held_lease(p_project bigint, p_annotator bigint, p_after bigint)
RETURNS TABLE (
    held_id bigint, held_task_id bigint, held_expires_at timestamptz,
    held_created_at timestamptz, held_display_order jsonb, held_task_judgments integer
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN QUERY
    SELECT a.id, a.task_id, a.expires_at, a.created_at, a.display_order,
           (SELECT t.judgment_count::integer FROM labeling_task t WHERE t.id = a.task_id)
    FROM labeling_assignment a
    WHERE a.annotator_id = p_annotator AND a.project_id = p_project AND a.status = 'active'
    ORDER BY a.created_at LIMIT 1;
END $$;
"""

DROP = """
DROP FUNCTION IF EXISTS labeling_slots_taken(bigint, timestamptz);
DROP FUNCTION IF EXISTS labeling_tasks_taken(bigint, bigint, timestamptz, bigint);
DROP FUNCTION IF EXISTS labeling_held_lease(bigint, bigint, bigint);
"""


def _run(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("labeling", "0002_task_assignee")]

    operations = [migrations.RunPython(_run(FUNCTIONS), _run(DROP))]
