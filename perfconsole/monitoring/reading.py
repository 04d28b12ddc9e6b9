"""Read statistics through the ORM with timeouts, a tag and no writes.

perfconsole.core.db.monitoring_cursor does this for raw cursors; pages built
on the unmanaged models need the same limits for the ORM's own queries.
"""

from contextlib import contextmanager

from django.db import DatabaseError, connections, transaction

from perfconsole.core.db import (
    StatisticsUnavailable,
    explain_database_error,
    limit_transaction,
    tag_sql,
)


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
    try:
        with transaction.atomic(using=using):
            with connection.cursor() as cursor:
                limit_transaction(cursor, statement_timeout_ms)
            with connection.execute_wrapper(_tag_query):
                yield connection
            transaction.set_rollback(True, using=using)
    except DatabaseError as error:
        raise StatisticsUnavailable(explain_database_error(error)) from error
