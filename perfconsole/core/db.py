"""Run the console's own statistics queries safely.

Every monitoring query carries a comment tag, so the console can hide its own
statements from query lists, and runs with a statement and lock timeout inside
a read-only transaction, so a catalog lock never hangs a page.
"""

from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connections, transaction

# The tag starts every statement the console sends for monitoring.
QUERY_TAG = "/* perfconsole */"


class StatisticsUnavailable(Exception):
    """Statistics could not be read right now (timeout, lock, missing grant)."""


def explain_database_error(error):
    """Turn a database error into a sentence a DBA can act on."""
    sqlstate = getattr(getattr(error, "__cause__", None), "sqlstate", None) or getattr(
        error, "sqlstate", None
    )
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
    return f"Statistics unavailable right now: {error}"


@contextmanager
def monitoring_cursor(using="default", statement_timeout_ms=None):
    """Yield a cursor in a read-only transaction with statement and lock timeouts.

    Database errors come out as StatisticsUnavailable with a clear message.
    """
    statement_timeout = statement_timeout_ms or settings.MONITORING_STATEMENT_TIMEOUT_MS
    try:
        with transaction.atomic(using=using):
            with connections[using].cursor() as cursor:
                cursor.execute(
                    f"{QUERY_TAG} SELECT set_config('statement_timeout', %s, true),"
                    " set_config('lock_timeout', %s, true),"
                    " set_config('transaction_read_only', 'on', true)",
                    [
                        f"{statement_timeout}ms",
                        f"{settings.MONITORING_LOCK_TIMEOUT_MS}ms",
                    ],
                )
                yield cursor
    except DatabaseError as error:
        raise StatisticsUnavailable(explain_database_error(error)) from error


def fetch_dicts(sql, params=None, using="default"):
    """Run one tagged monitoring query and return its rows as dicts."""
    with monitoring_cursor(using) as cursor:
        cursor.execute(f"{QUERY_TAG} {sql}", params or [])
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def server_version_num(using="default"):
    """Return server_version_num, e.g. 180001."""
    connection = connections[using]
    connection.ensure_connection()
    return connection.pg_version
