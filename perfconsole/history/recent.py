"""Judge the recent past from the statistics history: alert rules, the analyzer.

A window is judged from the history only when the history covers it: at
least one collection in it read the source and measured an interval (the
first collection only sets a baseline). Otherwise callers fall back to the
lifetime counters and say so (LIFETIME).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction

from perfconsole.core.db import CacheHits

from .collector import console_database
from .models import MonitoredDatabase
from .windows import collections, counter_sums, fetch, segment_filter, segments

LIFETIME = "lifetime counters: no statistics history covers the window yet"


@dataclass(frozen=True)
class Window:
    """A window of the history that has data: its bounds and words."""

    database: MonitoredDatabase
    start: datetime
    end: datetime
    words: str


def last(minutes):
    """Return "over the last 15 min", "... 24 h", "... 3 days" for a length."""
    if minutes % (24 * 60) == 0 and minutes > 24 * 60:
        return f"over the last {minutes // (24 * 60)} days"
    if minutes % 60 == 0:
        return f"over the last {minutes // 60} h"
    return f"over the last {minutes} min"


def covering(minutes, end, source, database=None):
    """Return the Window of the last minutes before end, or None.

    None when no collection in the window read the source over an interval
    (no history yet, or the history tables unreadable). database: the
    monitored database (None: the console's own).
    """
    start = end - timedelta(minutes=minutes)
    try:
        # A savepoint: a failure must not break the caller's transaction.
        with transaction.atomic():
            database = database or console_database()
            level, parts = segments(database, start, end)
            read = collections(database, parts, level, source).values()
    except DatabaseError:
        return None
    if sum(count for count, _ in read) and sum(seconds for _, seconds in read):
        return Window(database, start, end, last(minutes))
    return None


def database_hits(window):
    """Return the database's blocks hit and read in shared buffers in a window."""
    sums = counter_sums(window.database, "database", window.start, window.end)
    counters = sums.get("", {})
    return CacheHits(
        int(counters.get("blks_hit", 0)), int(counters.get("blks_read", 0))
    )


def table_scans(window):
    """Return {schema.name (quoted as needed): counters} of tables in a window."""
    return counter_sums(window.database, "table", window.start, window.end)


def statement_means(window, scope_sql, params, exclude_tag):
    """Return per queryid the mean execution time and calls in a window.

    scope_sql filters on the statement's query and queryid (as the
    pg_stat_statements columns are named); statements holding exclude_tag
    (the console's own) are left out. Rows: subject, detail, value, calls.
    """
    _level, parts = segments(window.database, window.start, window.end)
    where, where_params = segment_filter(window.database, parts)
    return fetch(
        "SELECT t.queryid::text AS subject, min(left(t.query, 500)) AS detail,"
        " sum(d.total_exec_time) / nullif(sum(d.calls), 0) AS value,"
        " sum(d.calls) AS calls"
        " FROM history_statementdelta d"
        " JOIN history_statementtext t ON t.id = d.statement_id"
        f" WHERE {where} AND strpos(t.query, %s) = 0 {scope_sql}"
        " GROUP BY t.queryid",
        [*where_params, exclude_tag, *params],
    )
