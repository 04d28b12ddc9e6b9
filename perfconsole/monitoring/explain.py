"""Show the plan of a monitored statement: EXPLAIN only, never ANALYZE."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlparse
from django.conf import settings
from django.db import connections

from perfconsole.core.db import StatisticsUnavailable
from perfconsole.monitoring.reading import reading_statistics

# pg_stat_statements replaces constants with $1, $2, ...
PARAMETER = re.compile(r"\$\d+\b")
GENERIC_PLAN_VERSION = 160000
PREPARED = "perfconsole_explain"


@dataclass
class Plan:
    """A plan's text, or the reason there is none."""

    text: str = ""
    message: str = ""
    generic: bool = False


def single_statement(sql):
    """Return the one statement in sql without its ';', or None."""
    statements = [s.strip().rstrip(";").strip() for s in sqlparse.split(sql)]
    statements = [s for s in statements if s]
    return statements[0] if len(statements) == 1 else None


def statement_type(statement):
    """Return SELECT, INSERT, COPY, ... ; WITH ... SELECT counts as SELECT."""
    kind = sqlparse.parse(statement)[0].get_type()
    if kind == "UNKNOWN":
        # sqlparse knows DML and DDL only; name the others by their keyword.
        kind = sqlparse.format(statement, strip_comments=True).split(None, 1)[0]
    return kind.upper()


def explain_statement(sql, server_version, using="default"):
    """Return the plan of sql, explained read-only with a timeout."""
    statement = single_statement(sql)
    if statement is None:
        return Plan(message="Not explained: the text holds more than one statement.")
    kind = statement_type(statement)
    if kind != "SELECT":
        return Plan(
            message=f"Not explained: only SELECT and WITH … SELECT statements are "
            f"explained, and this one is {kind}. The console sends only "
            "read-only statements to the server."
        )
    parameters = max((int(p[1:]) for p in PARAMETER.findall(statement)), default=0)
    generic = parameters > 0
    try:
        with reading_statistics(
            using, statement_timeout_ms=settings.MONITORING_EXPLAIN_TIMEOUT_MS
        ) as connection:
            with connection.cursor() as cursor:
                lines = _plan_lines(cursor, statement, parameters, server_version)
    except StatisticsUnavailable as error:
        return Plan(message=_explain_failure(error, using), generic=generic)
    return Plan(text="\n".join(lines), generic=generic)


def _plan_lines(cursor, statement, parameters, server_version):
    """Return EXPLAIN's lines; a generic plan when the text has $n."""
    if not parameters:
        cursor.execute(f"EXPLAIN (FORMAT TEXT) {statement}")
    elif server_version >= GENERIC_PLAN_VERSION:
        cursor.execute(f"EXPLAIN (GENERIC_PLAN, FORMAT TEXT) {statement}")
    else:
        # Before 16: PREPARE, then EXPLAIN EXECUTE with NULL arguments under
        # force_generic_plan gives the same generic plan.
        _deallocate(cursor)
        cursor.execute(
            "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)"
        )
        cursor.execute(f"PREPARE {PREPARED} AS {statement}")
        arguments = ", ".join(["NULL"] * parameters)
        cursor.execute(f"EXPLAIN (FORMAT TEXT) EXECUTE {PREPARED}({arguments})")
        lines = [row[0] for row in cursor.fetchall()]
        _deallocate(cursor)
        return lines
    return [row[0] for row in cursor.fetchall()]


def _deallocate(cursor):
    # A prepared statement outlives a rolled-back transaction: free one left
    # by a failed EXPLAIN before preparing again.
    cursor.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", [PREPARED])
    if cursor.fetchone():
        cursor.execute(f"DEALLOCATE {PREPARED}")


def _explain_failure(error, using):
    """Say why EXPLAIN failed, naming the grant when one is missing."""
    cause = error.__cause__
    sqlstate = getattr(getattr(cause, "__cause__", None), "sqlstate", None)
    detail = str(cause).strip().splitlines()[0] if cause else str(error)
    if sqlstate == "42501":
        role = connections[using].settings_dict["USER"] or "the console's role"
        return (
            f"Cannot be explained: {detail}. EXPLAIN needs SELECT on the "
            f"tables the statement reads: GRANT SELECT ON <table> TO {role} "
            f"(or GRANT pg_read_all_data TO {role})."
        )
    if sqlstate == "57014":
        return (
            "Cannot be explained: planning took longer than "
            f"{settings.MONITORING_EXPLAIN_TIMEOUT_MS} ms (statement timeout)."
        )
    return f"Cannot be explained: {detail}"
