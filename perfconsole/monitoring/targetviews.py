"""Read the statistics views on a monitored database that does not have them.

The views (query_stats, slow_queries, index_usage_stats,
table_performance_stats) are created by the console's migrations in its own
database only. A target is read-only to the console, and a standby cannot
take a view at all, so nothing is created there: on a target connection the
pages' ORM queries read each view's own SELECT inline, as a subquery named
like the view (`FROM "query_stats"` becomes `FROM (SELECT ...) AS
"query_stats"`). The SELECT is the one syncstatviews would create for the
target's server and pg_stat_statements versions, so the columns and rows are
those of the view.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from perfconsole.core.db import reading_statistics
from perfconsole.monitoring.extension import statements_status
from perfconsole.monitoring.statviews import (
    LATEST_VERSION,
    VIEW_NAMES,
    view_statements,
)

CREATE_VIEW = re.compile(
    r"^\s*(?:--[^\n]*\n\s*)*CREATE\s+OR\s+REPLACE\s+VIEW\s+(\w+)\s+AS\s+",
    re.IGNORECASE,
)


def view_select(view_sql: str) -> str:
    """Return the SELECT of a CREATE OR REPLACE VIEW file, comments dropped."""
    match = CREATE_VIEW.match(view_sql)
    if match is None:
        raise ValueError("not a CREATE OR REPLACE VIEW statement")
    return view_sql[match.end() :].strip().rstrip(";")


def inline_selects(using: str) -> dict[str, str]:
    """Return each view's SELECT for the server behind the alias.

    A view reading another (slow_queries reads query_stats) reads it inline
    too. Call it inside reading_statistics(using): it reads the catalog.
    """
    connection = connections[using]
    status = statements_status(using)
    connection.ensure_connection()
    selects: dict[str, str] = {}
    for name, sql in view_statements(LATEST_VERSION, status, connection.pg_version):
        select = view_select(sql)
        for earlier, earlier_select in selects.items():
            select = re.sub(
                rf"\bFROM\s+{earlier}\b",
                f"FROM ({earlier_select}) AS {earlier}",
                select,
            )
        selects[name] = select
    return selects


def inline_views(sql: str, selects: dict[str, str], has_params: bool) -> str:
    """Return sql with every `FROM "view"` of the ORM read inline."""
    for name in VIEW_NAMES:
        reference = f'FROM "{name}"'
        if reference not in sql:
            continue
        select = selects[name]
        if has_params:
            # The driver reads % as a placeholder in a statement with params.
            select = select.replace("%", "%%")
        sql = sql.replace(reference, f'FROM ({select}) AS "{name}"')
    return sql


@contextmanager
def reading_views(using: str = DEFAULT_DB_ALIAS) -> Iterator[BaseDatabaseWrapper]:
    """Yield reading_statistics(using) in which the statistics views can be read.

    On the console's own database the views exist; on a target, every
    statement of the block reads them inline (inline_views).
    """
    with reading_statistics(using) as connection:
        if using == DEFAULT_DB_ALIAS:
            yield connection
            return
        selects = inline_selects(using)

        def inline(execute, sql, params, many, context):
            if isinstance(sql, str):
                sql = inline_views(sql, selects, params is not None)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(inline):
            yield connection
