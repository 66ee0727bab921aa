"""Server-side prepared statements on PostgreSQL, for the few statements a server runs thousands
of times a minute (the labeling loop's claim, its submit read and write): each is parsed and
planned once per database connection, then only executed. Their planning cost more than their
run (about 1 ms each against 0.1 to 0.5 ms).

The statement is prepared on the connection the first time it runs there, in the same round trip
as its first execution. A prepared statement outlives a rollback, and belongs to its session:
a new connection prepares again. ARBITER_PG_PREPARE=false turns this off (e.g. behind a pooler
in transaction mode, where a session's prepared statements do not follow it)."""

import hashlib
import re

from django.conf import settings

_NAMED = re.compile(r"%\((\w+)\)s")
_POSITIONAL = re.compile(r"%s")


class Statement:
    """One SQL statement in psycopg2's notation (`%(name)s` or `%s` parameters, no literal `%`),
    as a prepared statement's text and the EXECUTE that runs it."""

    def __init__(self, sql: str):
        self.sql = sql
        self.name = "arbiter_" + hashlib.sha1(sql.encode()).hexdigest()[:20]
        self.names: list[str] = []
        if _NAMED.search(sql):
            numbers: dict[str, int] = {}

            def number(match):
                name = match.group(1)
                if name not in numbers:
                    numbers[name] = len(numbers) + 1
                    self.names.append(name)
                return f"${numbers[name]}"

            text = _NAMED.sub(number, sql)
            count = len(numbers)
        else:
            count = 0

            def position(match):
                nonlocal count
                count += 1
                return f"${count}"

            text = _POSITIONAL.sub(position, sql)
        arguments = f"({', '.join(['%s'] * count)})" if count else ""
        self.execute_sql = f"EXECUTE {self.name}{arguments}"
        self.prepare_sql = f"PREPARE {self.name} AS {text};\n{self.execute_sql}"

    def arguments(self, params) -> list:
        return [params[name] for name in self.names] if self.names else list(params)


def execute(cursor, statement: Statement, params) -> None:
    """Runs the statement on Django's `cursor` as a prepared statement where the connection is
    PostgreSQL's (and ARBITER_PG_PREPARE allows), else as plain SQL; read the rows from `cursor`."""
    db = cursor.db
    if db.vendor != "postgresql" or not getattr(settings, "ARBITER_PG_PREPARE", True):
        cursor.execute(statement.sql, params)
        return
    session = db.connection  # the driver's connection: a new one has prepared nothing
    prepared = getattr(db, "_arbiter_prepared", None)
    if prepared is None or prepared[0] is not session:
        prepared = db._arbiter_prepared = (session, set(), set())  # prepared, uncertain
    arguments = statement.arguments(params)
    if statement.name not in prepared[1] and statement.name in prepared[2]:
        # An earlier first run failed after (or before) its PREPARE: ask the session.
        cursor.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", [statement.name])
        if cursor.fetchone() is not None:
            prepared[1].add(statement.name)
        prepared[2].discard(statement.name)
    if statement.name in prepared[1]:
        cursor.execute(statement.execute_sql, arguments)
        return
    try:
        cursor.execute(statement.prepare_sql, arguments)
    except Exception:
        prepared[2].add(statement.name)  # a PREPARE outlives the failure of what follows it
        raise
    prepared[1].add(statement.name)
