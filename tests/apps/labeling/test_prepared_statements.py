"""apps/core/prepared.py: the labeling loop's hot statements prepared once per PostgreSQL connection."""

import pytest
from django.db import DataError, connection

from apps.core import prepared


def _prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_statement_is_prepared_once_and_answers_as_the_plain_one():
    statement = prepared.Statement("SELECT %(a)s::int + %(b)s::int, %(a)s::int * 2")
    with connection.cursor() as cursor:
        answers = []
        for a, b in ((1, 2), (5, 7), (3, 3)):
            prepared.execute(cursor, statement, {"a": a, "b": b})
            answers.append(cursor.fetchone())
        cursor.execute(statement.sql, {"a": 5, "b": 7})
        plain = cursor.fetchone()
    assert answers == [(3, 2), (12, 10), (6, 6)]
    assert answers[1] == plain
    assert statement.name in _prepared_names()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_first_run_that_fails_after_its_prepare_leaves_the_next_run_working():
    statement = prepared.Statement("SELECT 10 / %s::int")
    with connection.cursor() as cursor:
        with pytest.raises(DataError):
            prepared.execute(cursor, statement, [0])  # the PREPARE stays, the division fails
        prepared.execute(cursor, statement, [5])
        assert cursor.fetchone() == (2,)
        prepared.execute(cursor, statement, [2])
        assert cursor.fetchone() == (5,)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_again():
    statement = prepared.Statement("SELECT %s::int + 1")
    with connection.cursor() as cursor:
        prepared.execute(cursor, statement, [1])
    connection.close()
    assert statement.name not in _prepared_names()
    with connection.cursor() as cursor:
        prepared.execute(cursor, statement, [41])
        assert cursor.fetchone() == (42,)
    assert statement.name in _prepared_names()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_switched_off_it_runs_plain_sql(settings):
    settings.ARBITER_PG_PREPARE = False
    statement = prepared.Statement("SELECT %s::int + 2")
    with connection.cursor() as cursor:
        prepared.execute(cursor, statement, [1])
        assert cursor.fetchone() == (3,)
    assert statement.name not in _prepared_names()
