"""Read statistics through the ORM with timeouts, a tag and no writes.

perfconsole.core.db.monitoring_cursor does this for raw cursors; pages built
on the unmanaged models need the same limits for the ORM's own queries.
"""

import re
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connections, transaction

from perfconsole.core.db import QUERY_TAG, StatisticsUnavailable, explain_database_error

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


def _tag_query(execute, sql, params, many, context):
    # The tag lets query_stats leave the console's own statements out.
    return execute(tag_sql(sql), params, many, context)


@contextmanager
def reading_statistics(using="default", statement_timeout_ms=None):
    """Run the block read-only, tagged, with statement and lock timeouts.

    Database errors come out as StatisticsUnavailable. The transaction (or
    savepoint) is rolled back at the end, so the timeouts never outlive it.
    """
    connection = connections[using]
    timeout = statement_timeout_ms or settings.MONITORING_STATEMENT_TIMEOUT_MS
    try:
        with transaction.atomic(using=using):
            with connection.cursor() as cursor:
                # pg_stat_statements keeps the first text of a statement shape;
                # the extra column makes this shape the console's own, so its
                # text (and tag) is never another caller's untagged one.
                cursor.execute(
                    f"SELECT {QUERY_TAG} set_config('statement_timeout', %s, true),"
                    " set_config('lock_timeout', %s, true),"
                    " set_config('transaction_read_only', 'on', true),"
                    " 'perfconsole.monitoring' AS reader",
                    [f"{timeout}ms", f"{settings.MONITORING_LOCK_TIMEOUT_MS}ms"],
                )
            with connection.execute_wrapper(_tag_query):
                yield connection
            transaction.set_rollback(True, using=using)
    except DatabaseError as error:
        raise StatisticsUnavailable(explain_database_error(error)) from error
