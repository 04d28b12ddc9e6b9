"""Reset this database's statement or table statistics, audited.

A reset clears counters every tool reads (pg_stat_statements is shared by
PgHero, pganalyze, psql users...), so each has its own permission, a
confirmation page, and an entry in the admin log.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DatabaseError, connection, transaction

from perfconsole.core.admin import log_console_change
from perfconsole.core.db import limit_transaction, sqlstate_of, tag_sql
from perfconsole.monitoring.models import QueryStat, TablePerformance


@dataclass(frozen=True)
class Reset:
    """One kind of reset: what it clears and how."""

    model: type
    permission: str
    title: str
    function: str
    sql: str
    clears: str
    shared: str


RESETS = {
    "querystat": Reset(
        model=QueryStat,
        permission="monitoring.reset_querystat",
        title="Reset query statistics",
        function="pg_stat_statements_reset",
        # This database's statements only (every user, every query id).
        sql="SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database"
        " WHERE datname = current_database()), 0)",
        clears="Every statement of this database in pg_stat_statements: calls, "
        "times, rows, blocks, for every user. Statements start counting afresh "
        "from their next call.",
        shared="pg_stat_statements is shared: other tools and people who read it "
        "(PgHero, pganalyze, monitoring agents, psql) lose these counters too.",
    ),
    "tablestat": Reset(
        model=TablePerformance,
        permission="monitoring.reset_tablestat",
        title="Reset table and index statistics",
        function="pg_stat_reset",
        sql="SELECT pg_stat_reset()",
        clears="Every cumulative counter of this database: sequential and index "
        "scans, tuples read, inserted, updated, deleted, live and dead tuple "
        "counts, cache hits, and the (auto)vacuum and analyze counts. Index "
        "usage restarts from zero, so an index looks unused until it is scanned "
        "again. Autovacuum judges tables by their dead tuples: until they are "
        "counted again, it may wait longer before vacuuming.",
        shared="These counters are shared: other tools and people who read the "
        "statistics views (pg_stat_user_tables, pg_stat_user_indexes, "
        "pg_stat_database) lose them too.",
    ),
}


class ResetRefused(Exception):
    """The reset was not done; the message says why and what to do."""


def reset_statistics(user, kind):
    """Run one reset as the console's role, log it; return what was done."""
    reset = RESETS[kind]
    if not user.has_perm(reset.permission):
        raise ResetRefused(f"You need the permission {reset.permission}.")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            limit_transaction(cursor, read_only=False)
            cursor.execute(tag_sql(reset.sql))
    except DatabaseError as error:
        raise ResetRefused(_refusal(reset, error)) from error
    message = f"{reset.title}: done for the database {connection.settings_dict['NAME']}"
    log_console_change(
        user,
        reset.model,
        kind,
        reset.title.removeprefix("Reset ").capitalize(),
        f"{message} ({reset.function}).",
    )
    return f"{message}."


def _refusal(reset, error):
    """Say why a reset failed, naming the grant when one is missing."""
    sqlstate = sqlstate_of(error)
    if sqlstate == "42501":
        role = connection.settings_dict["USER"] or "<console role>"
        return (
            f"The console's database role may not run {reset.function}(): a "
            f"superuser grants it with GRANT EXECUTE ON FUNCTION {reset.function} "
            f"TO {role};"
        )
    if sqlstate == "42883":
        return (
            f"{reset.function}() does not exist in this database: is the "
            "pg_stat_statements extension installed (CREATE EXTENSION "
            "pg_stat_statements)?"
        )
    return f"Not reset: {str(error).strip().splitlines()[0]}"
