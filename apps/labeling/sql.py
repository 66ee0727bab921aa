"""The labeling hot path's statements, for PostgreSQL (the demo's SQLite keeps the ORM path).

CLAIM_SQL leases the next task, or answers with the lease the annotator already holds, in one
statement: it locks the annotator's membership row (so one annotator's claims queue, which
makes quotas and "one open lease" exact, and an exclusion committing meanwhile is seen), picks
a task with FOR UPDATE SKIP LOCKED under the same rules as `_candidate_tasks` (kind, overlap
with live leases, reservation to an annotator or group, never a task the annotator saw, gold
first when asked), re-counts the picked task's slots after its lock through a VOLATILE
function (migration 0003: a fresh snapshot, which sees a lease committed by the claimer that
held the lock before), and inserts the lease with a random screen order. It returns what the
API's answer needs: the task's kind, consequence, prompt messages and responses in display
order.

`verdict` says what happened: `claim` (a lease, or none left when `assignment_id` is null),
`held` (the open lease, unchanged), `quota`, `excluded`, `failed`, or `fallback` (a case the
ORM path handles: qualification in progress, an open lease that lapsed or whose task filled).
`tried` is the task locked whose re-count found it full: the caller asks again, skipping it.
"""

import functools

from apps.core.prepared import Statement

_CANDIDATE = """
    SELECT t.id FROM labeling_task t
    WHERE (SELECT v FROM verdict) = 'claim'
      AND t.project_id = %(project)s AND t.kind = %(kind)s
      AND t.judgment_count < %(overlap)s
      {hindsight}
      AND (t.assignee_id IS NULL OR t.assignee_id = %(annotator)s)
      AND t.assignee_group IN ('', (SELECT grp FROM verdict))
      AND t.is_gold = {gold}
      {after}
      AND NOT (t.id = ANY(%(skip)s::bigint[]))
      AND NOT EXISTS (
          SELECT 1 FROM labeling_assignment s
          WHERE s.task_id = t.id AND s.annotator_id = %(annotator)s
      )
      AND t.judgment_count + (
          SELECT count(*) FROM labeling_assignment l
          WHERE l.task_id = t.id AND l.status = 'active' AND l.expires_at > %(now)s
      ) < %(overlap)s
    ORDER BY t.priority, t.id  -- task_queue_idx: the scan stops at the first free task
    LIMIT 1
    FOR UPDATE OF t SKIP LOCKED
"""

CLAIM_SQL = """
WITH m AS MATERIALIZED (
    SELECT id, excluded_at, qualification, quota, "group"
    FROM projects_membership
    WHERE project_id = %(project)s AND user_id = %(annotator)s
    FOR UPDATE
),
st AS MATERIALIZED (
    SELECT m.id IS NOT NULL AS member, m.excluded_at IS NOT NULL AS excluded,
           m.qualification, m.quota, coalesce(m."group", '') AS grp
    FROM (SELECT 1) AS one LEFT JOIN m ON true
),
held AS MATERIALIZED (
    SELECT * FROM labeling_held_lease(%(project)s, %(annotator)s, (SELECT count(*) FROM st))
),
verdict AS MATERIALIZED (
    SELECT CASE
        WHEN st.excluded THEN 'excluded'
        WHEN st.qualification = 'pending' THEN 'fallback'
        WHEN st.qualification = 'failed' THEN 'failed'
        WHEN EXISTS (SELECT 1 FROM held) THEN (
            SELECT CASE
                WHEN h.held_expires_at > %(now)s AND h.held_task_judgments < %(overlap)s
                THEN 'held' ELSE 'fallback' END
            FROM held h
        )
        WHEN st.quota IS NOT NULL AND labeling_tasks_taken(
            %(project)s, %(annotator)s, %(now)s, (SELECT count(*) FROM st)
        ) >= st.quota THEN 'quota'
        ELSE 'claim'
    END AS v, st.grp
    FROM st
),
first_choice AS MATERIALIZED ({first}),
second_choice AS MATERIALIZED ({second}),
cand AS MATERIALIZED (
    SELECT id FROM first_choice UNION ALL SELECT id FROM second_choice
),
pick AS MATERIALIZED (
    SELECT c.id FROM cand c WHERE labeling_slots_taken(c.id, %(now)s) < %(overlap)s
),
ins AS (
    INSERT INTO labeling_assignment
        (task_id, annotator_id, project_id, status, display_order, created_at, expires_at)
    SELECT pick.id, %(annotator)s, %(project)s, 'active',
           (SELECT coalesce(jsonb_agg(i.response_id ORDER BY random()), '[]'::jsonb)
            FROM labeling_taskitem i WHERE i.task_id = pick.id),
           %(now)s, %(expires)s
    FROM pick
    RETURNING id, task_id, expires_at, created_at, display_order
),
lease AS (
    SELECT id, task_id, expires_at, created_at, display_order FROM ins
    UNION ALL
    SELECT h.held_id, h.held_task_id, h.held_expires_at, h.held_created_at, h.held_display_order
    FROM held h, verdict WHERE verdict.v = 'held'
)
SELECT verdict.v, (SELECT id FROM cand LIMIT 1),
       lease.id, lease.task_id, lease.expires_at, lease.created_at, lease.display_order::text,
       t.kind, t.consequence, p.messages::text,
       (SELECT jsonb_agg(
                   jsonb_build_object('id', r.id, 'text', r.text, 'source', r.source,
                                      'position', i.position)
                   ORDER BY d.ord)::text
        FROM jsonb_array_elements_text(lease.display_order) WITH ORDINALITY AS d(rid, ord)
        JOIN labeling_taskitem i ON i.task_id = lease.task_id AND i.response_id = d.rid::bigint
        JOIN corpus_response r ON r.id = i.response_id)
FROM verdict
LEFT JOIN lease ON true
-- One index lookup each: a plain join (or a flattened LATERAL, hence OFFSET 0) let the
-- planner hash every task of the database.
LEFT JOIN LATERAL (
    SELECT kind, consequence, prompt_id FROM labeling_task WHERE id = lease.task_id OFFSET 0
) AS t ON true
LEFT JOIN LATERAL (SELECT messages FROM corpus_prompt WHERE id = t.prompt_id OFFSET 0) AS p ON true
"""


@functools.cache
def claim_statement() -> Statement:
    """The claim statement of a main-phase project, prepared once per connection."""
    return Statement(claim_sql(hindsight=False))


def claim_sql(*, hindsight: bool) -> str:
    """The claim statement; the first choice of gold or not is the `want_gold` parameter."""
    ready = "AND t.consequence <> ''" if hindsight else ""
    first = _CANDIDATE.format(hindsight=ready, gold="%(want_gold)s", after="")
    second = _CANDIDATE.format(
        hindsight=ready,
        gold="NOT %(want_gold)s",
        after="AND NOT EXISTS (SELECT 1 FROM first_choice)",  # only when the first found none
    )
    return CLAIM_SQL.format(first=first, second=second)


SUBMIT_SQL = """
WITH a AS MATERIALIZED (
    SELECT id, task_id FROM labeling_assignment
    WHERE id = %(assignment)s AND annotator_id = %(annotator)s
      AND status = 'active' AND expires_at > %(now)s
    FOR UPDATE
),
t AS MATERIALIZED (
    SELECT id, judgment_count FROM labeling_task
    WHERE id = (SELECT task_id FROM a) AND judgment_count < %(overlap)s
    FOR UPDATE
),
ins AS (
    INSERT INTO feedback_judgment ({columns})
    SELECT {values} FROM a, t
    RETURNING id, task_id, assignment_id
),
lease AS (
    UPDATE labeling_assignment SET status = 'submitted', finished_at = %(now)s
    WHERE id = (SELECT assignment_id FROM ins)
),
slot AS (
    UPDATE labeling_task SET judgment_count = judgment_count + 1
    WHERE id = (SELECT task_id FROM ins) AND %(counts)s
),
rollup AS (
    INSERT INTO dashboard_judgmentrollup
        (project_id, annotator_key, hour, kind, final, {counters})
    SELECT %(project)s, %(annotator)s, %(hour)s, %(kind)s, %(final)s, {counter_values} FROM ins
    ON CONFLICT (project_id, annotator_key, hour, kind, final) DO UPDATE SET {counter_updates}
),
unit AS (
    INSERT INTO dashboard_agreementunit (task_id, project_id, m, s, s2)
    SELECT task_id, %(project)s, 1, %(strength)s::float8, %(strength)s::float8 * %(strength)s::float8
    FROM ins WHERE %(in_unit)s
    ON CONFLICT (task_id) DO UPDATE SET
        m = dashboard_agreementunit.m + 1,
        s = dashboard_agreementunit.s + EXCLUDED.s,
        s2 = dashboard_agreementunit.s2 + EXCLUDED.s2
    RETURNING m, s, s2
),
shard AS (
    -- The unit's change of its part of the alpha totals (dashboard.services._unit_terms):
    -- nothing until it has two judgments.
    INSERT INTO dashboard_agreementshard (project_id, annotator_key, units, n, s, s2, observed)
    SELECT %(project)s, %(annotator)s,
           CASE WHEN m > 2 THEN 0 ELSE 1 END,
           CASE WHEN m > 2 THEN 1 ELSE m END,
           CASE WHEN m > 2 THEN s - (s - %(strength)s::float8) ELSE s END,
           CASE WHEN m > 2 THEN s2 - (s2 - %(strength)s::float8 * %(strength)s::float8) ELSE s2 END,
           2 * (m * s2 - s * s) / (m - 1)
           - CASE WHEN m > 2 THEN
                 2 * ((m - 1) * (s2 - %(strength)s::float8 * %(strength)s::float8)
                      - (s - %(strength)s::float8) * (s - %(strength)s::float8)) / (m - 2)
             ELSE 0 END
    FROM unit WHERE m >= 2
    ON CONFLICT (project_id, annotator_key) DO UPDATE SET
        units = dashboard_agreementshard.units + EXCLUDED.units,
        n = dashboard_agreementshard.n + EXCLUDED.n,
        s = dashboard_agreementshard.s + EXCLUDED.s,
        s2 = dashboard_agreementshard.s2 + EXCLUDED.s2,
        observed = dashboard_agreementshard.observed + EXCLUDED.observed
),
triads AS (
    -- apps/quality/cycles.py: the triads the new preference closes among the annotator's own.
    SELECT count(*) AS n FROM feedback_judgment AS x_beats_w
    JOIN feedback_judgment AS l_beats_x
      ON l_beats_x.project_id = x_beats_w.project_id
     AND l_beats_x.annotator_id = x_beats_w.annotator_id
     AND l_beats_x.rejected_response_id = x_beats_w.chosen_response_id
     AND l_beats_x.excluded_at IS NULL
    WHERE %(winner)s::bigint IS NOT NULL AND EXISTS (SELECT 1 FROM ins)
      AND x_beats_w.project_id = %(project)s AND x_beats_w.annotator_id = %(annotator)s
      AND x_beats_w.excluded_at IS NULL
      AND x_beats_w.rejected_response_id = %(winner)s
      AND l_beats_x.chosen_response_id = %(loser)s
),
cycles AS (
    UPDATE projects_membership SET intransitive_cycles = intransitive_cycles + triads.n
    FROM triads
    WHERE project_id = %(project)s AND user_id = %(annotator)s AND triads.n > 0
)
SELECT ins.id, t.judgment_count FROM ins, t
"""


@functools.cache
def submit_statement(
    *, columns: tuple[str, ...], values: tuple[str, ...], counters: tuple[str, ...]
):
    """SUBMIT_SQL as a statement prepared once per connection."""
    return Statement(
        submit_sql(columns=list(columns), values=list(values), counters=list(counters))
    )


def submit_sql(*, columns: list[str], values: list[str], counters: list[str]) -> str:
    """SUBMIT_SQL for the judgment's columns (the model's, so a new field needs no change here)
    and the dashboard counters (`%(c_<name>)s` parameters)."""
    return SUBMIT_SQL.format(
        columns=", ".join(f'"{c}"' for c in columns),
        values=", ".join(values),
        counters=", ".join(counters),
        counter_values=", ".join(f"%(c_{c})s" for c in counters),
        counter_updates=", ".join(
            f"{c} = dashboard_judgmentrollup.{c} + EXCLUDED.{c}" for c in counters
        ),
    )
