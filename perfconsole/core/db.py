"""Run the console's own statistics queries safely.

Every monitoring query carries a comment tag, so the console can hide its own
statements from query lists, and runs with a statement and lock timeout inside
a read-only transaction, so a catalog lock never hangs a page.
"""

import re
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connections, transaction

# The tag marks every statement the console sends for monitoring.
QUERY_TAG = "/* perfconsole */"
FIRST_WORD = re.compile(r"^\s*(?:/\*.*?\*/\s*)*([A-Za-z]+)", re.DOTALL)


def tag_sql(sql):
    """Return sql with the console's tag after its first keyword.

    PostgreSQL 18's pg_stat_statements drops comments before a statement,
    so a leading tag would not reach query_stats; one inside the statement
    does ("SELECT /* perfconsole */ ...").
    """
    if QUERY_TAG in sql:
        match = FIRST_WORD.match(sql)
        if match and sql.find(QUERY_TAG) > match.start(1):
            return sql
        sql = sql.replace(QUERY_TAG, "", 1)
    match = FIRST_WORD.match(sql)
    if not match:
        return f"{QUERY_TAG} {sql}"
    return f"{sql[: match.end(1)]} {QUERY_TAG}{sql[match.end(1) :]}"


class StatisticsUnavailable(Exception):
    """Statistics could not be read right now (timeout, lock, missing grant)."""


def explain_database_error(error):
    """Turn a database error into a sentence a DBA can act on."""
    sqlstate = getattr(getattr(error, "__cause__", None), "sqlstate", None) or getattr(
        error, "sqlstate", None
    )
    if sqlstate == "57014" and "user request" in str(error):
        return "The statistics query was cancelled by another session."
    if sqlstate == "57014":
        return "Statistics unavailable right now: the query hit its statement timeout."
    if sqlstate == "55P03":
        return (
            "Statistics unavailable right now: a catalog lock is held by another "
            "session (lock timeout)."
        )
    if sqlstate == "42501":
        role = connections["default"].settings_dict["USER"] or "your_role"
        return (
            "Permission denied: grant the console's role pg_monitor "
            f"(GRANT pg_monitor TO {role})."
        )
    return explain_other_error(sqlstate, error)


# Errors that mean the server, not the query, failed: no connection (08 and
# libpq's own errors, which have no SQLSTATE), shutdown, recovery.
SERVER_GONE_STATES = {"57P01", "57P02", "57P03"}
# A view or function the console created is missing or has another shape.
SCHEMA_STATES = {"42P01", "42703", "42883"}


def explain_other_error(sqlstate, error):
    """Name what happened for the errors that are not timeouts or grants."""
    if sqlstate is None or sqlstate.startswith("08") or sqlstate in SERVER_GONE_STATES:
        return f"The database server could not be reached: {error}"
    if sqlstate == "53300":
        return f"The database server accepts no more connections: {error}"
    if sqlstate.startswith("53"):
        return f"The database server is out of resources ({sqlstate}): {error}"
    if sqlstate in SCHEMA_STATES:
        return (
            f"A statistics view is missing or outdated ({error}): run "
            "python manage.py migrate, then python manage.py syncstatviews."
        )
    return f"The statistics query failed (SQLSTATE {sqlstate}): {error}"


def limit_transaction(cursor, statement_timeout_ms=None):
    """Make the current transaction read-only, with statement and lock timeouts."""
    timeout = statement_timeout_ms or settings.MONITORING_STATEMENT_TIMEOUT_MS
    cursor.execute(
        # pg_stat_statements keeps the first text of a statement shape; the
        # extra column makes this shape the console's own, so its text (and
        # tag) is never another caller's untagged one.
        f"SELECT {QUERY_TAG} set_config('statement_timeout', %s, true),"
        " set_config('lock_timeout', %s, true),"
        " set_config('transaction_read_only', 'on', true),"
        " 'perfconsole.monitoring' AS reader",
        [f"{timeout}ms", f"{settings.MONITORING_LOCK_TIMEOUT_MS}ms"],
    )


@contextmanager
def monitoring_cursor(using="default", statement_timeout_ms=None):
    """Yield a cursor in a read-only transaction with statement and lock timeouts.

    Database errors come out as StatisticsUnavailable with a clear message.
    The transaction (or savepoint) is rolled back at the end, so the timeouts
    never outlive the block.
    """
    try:
        with transaction.atomic(using=using):
            with connections[using].cursor() as cursor:
                limit_transaction(cursor, statement_timeout_ms)
                yield cursor
            transaction.set_rollback(True, using=using)
    except DatabaseError as error:
        raise StatisticsUnavailable(explain_database_error(error)) from error


def fetch_dicts(sql, params=None, using="default"):
    """Run one tagged monitoring query and return its rows as dicts."""
    with monitoring_cursor(using) as cursor:
        cursor.execute(tag_sql(sql), params or [])
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def server_version_num(using="default"):
    """Return server_version_num, e.g. 180001."""
    connection = connections[using]
    connection.ensure_connection()
    return connection.connection.info.server_version
