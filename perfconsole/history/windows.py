"""Read the statistics history over a window [start, end).

Pages, the dashboard (dashboard.Periods, its series with gaps) and the
windows of alert rules and the analyzer (recent.py) build on these; they pick the
level (raw, hourly, daily) from the window's length and read the part of the
window not rolled up yet from the level below, so a window always reaches
the last collection. A window on a rolled level is aligned to its periods: a
period belongs to the window when it starts in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from perfconsole.core.db import tag_sql

from .models import Level, StatementCounters

# Windows up to this long read raw rows, up to the second hourly ones.
RAW_UP_TO = timedelta(hours=6)
HOURLY_UP_TO = timedelta(days=14)
UNITS = {Level.HOURLY: timedelta(hours=1), Level.DAILY: timedelta(days=1)}
STATEMENT_COLUMNS = tuple(field.name for field in StatementCounters._meta.fields)


@dataclass(frozen=True)
class Segment:
    """A part of a window read from one level."""

    level: Level
    start: datetime
    end: datetime


def pick_level(start, end, now=None):
    """Return the level a window reads, by its length and its age."""
    now = now or timezone.now()
    span = end - start
    if span <= RAW_UP_TO and start >= now - timedelta(
        days=settings.STATS_RETENTION_RAW_DAYS
    ):
        return Level.RAW
    if span <= HOURLY_UP_TO and start >= now - timedelta(
        days=settings.STATS_RETENTION_HOURLY_DAYS
    ):
        return Level.HOURLY
    return Level.DAILY


def segments(database, start, end, level=None):
    """Split [start, end) into the parts read from each level.

    The picked level covers what is rolled up into it; the rest comes from
    the levels below (hourly rows, then raw rows).
    """
    level = pick_level(start, end) if level is None else level
    bounds = {
        Level.DAILY: database.daily_done_until,
        Level.HOURLY: database.hourly_done_until,
    }
    parts = []
    cursor = start
    for current in (Level.DAILY, Level.HOURLY):
        if level < current or bounds[current] is None:
            continue
        upto = min(end, bounds[current])
        if cursor < upto:
            parts.append(Segment(current, cursor, upto))
            cursor = upto
    if cursor < end:
        parts.append(Segment(Level.RAW, cursor, end))
    return level, parts


def segment_filter(database, parts, alias="d"):
    """Return (SQL condition, params) selecting the rows of the segments."""
    clauses = [
        f"({alias}.level = %s AND {alias}.period_start >= %s"
        f" AND {alias}.period_start < %s)"
        for _ in parts
    ]
    params: list = [database.id]
    for part in parts:
        params += [int(part.level), part.start, part.end]
    condition = " OR ".join(clauses) or "false"
    return f"{alias}.database_id = %s AND ({condition})", params


def fetch(sql, params):
    """Run one tagged query on the console's database; return dict rows."""
    with connection.cursor() as cursor:
        cursor.execute(tag_sql(sql), params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def previous_window(start, end):
    """Return the window of the same length just before [start, end)."""
    return start - (end - start), start


def change(current, previous):
    """Return the relative change in percent, or None without a base."""
    if not previous:
        return None
    return round(100.0 * (current - previous) / previous, 1)


def statement_sums(database, start, end, level=None):
    """Return {statement id: row of sums} over a window."""
    _level, parts = segments(database, start, end, level)
    where, params = segment_filter(database, parts)
    sums = ", ".join(f"sum(d.{name}) AS {name}" for name in STATEMENT_COLUMNS)
    rows = fetch(
        f"SELECT d.statement_id, {sums} FROM history_statementdelta d"
        f" WHERE {where} GROUP BY d.statement_id",
        params,
    )
    return {row.pop("statement_id"): row for row in rows}


def statement_totals(database, start, end, limit=None, order_by="total_time"):
    """Return per statement: calls, total and mean time, rows, blocks, ...

    Each row also has the previous window's calls and total time and the
    change in percent. Sorted by order_by (descending); limit rows at most.
    """
    from .models import StatementText

    level = pick_level(start, end)
    current = statement_sums(database, start, end, level)
    before = statement_sums(database, *previous_window(start, end), level)
    texts = StatementText.objects.in_bulk(list(current))
    rows = []
    for statement_id, sums in current.items():
        row = {name: float(value or 0) for name, value in sums.items()}
        text = texts[statement_id]
        row.update(
            statement_id=statement_id,
            queryid=text.queryid,
            userid=text.userid,
            toplevel=text.toplevel,
            query=text.query,
        )
        row["total_time"] = row["total_exec_time"] + row["total_plan_time"]
        row["mean_time"] = row["total_time"] / row["calls"] if row["calls"] else None
        previous = before.get(statement_id, {})
        row["previous_calls"] = float(previous.get("calls") or 0)
        row["previous_total_time"] = float(previous.get("total_exec_time") or 0) + (
            float(previous.get("total_plan_time") or 0)
        )
        row["calls_change"] = change(row["calls"], row["previous_calls"])
        row["total_time_change"] = change(row["total_time"], row["previous_total_time"])
        rows.append(row)
    rows.sort(key=lambda row: row[order_by] or 0, reverse=True)
    return rows[:limit] if limit else rows


def counter_sums(database, source, start, end, level=None, key=None):
    """Return {key: {counter: sum}} of a JSON source over a window."""
    _level, parts = segments(database, start, end, level)
    where, params = segment_filter(database, parts)
    extra = ""
    params.append(source)
    if key is not None:
        extra = " AND d.key = %s"
        params.append(key)
    rows = fetch(
        "SELECT d.key, e.key AS counter, sum(e.value::numeric) AS total"
        " FROM history_counterdelta d, jsonb_each(d.counters) e"
        f" WHERE ({where}) AND d.source = %s{extra}"
        " GROUP BY d.key, e.key",
        params,
    )
    sums: dict[str, dict[str, float]] = {}
    for row in rows:
        sums.setdefault(row["key"], {})[row["counter"]] = float(row["total"])
    return sums


def counter_totals(database, source, start, end):
    """Return per object of a source: its sums and the previous window's.

    Each row is {"key", "counters", "previous", "gauges"}, gauges being the
    latest seen in the window (live/dead rows of a table, sizes).
    """
    level = pick_level(start, end)
    current = counter_sums(database, source, start, end, level)
    before = counter_sums(database, source, *previous_window(start, end), level)
    gauges = latest_gauges(database, source, start, end)
    return [
        {
            "key": key,
            "counters": counters,
            "previous": before.get(key, {}),
            "gauges": gauges.get(key),
        }
        for key, counters in sorted(current.items())
    ]


def table_totals(database, start, end):
    """Return per table its scans, tuples, vacuums ... (see counter_totals)."""
    return counter_totals(database, "table", start, end)


def index_totals(database, start, end):
    """Return per index its scans and tuples (see counter_totals)."""
    return counter_totals(database, "index", start, end)


def latest_gauges(database, source, start, end):
    """Return {key: the last gauges stored in [start, end)} of a source."""
    rows = fetch(
        "SELECT DISTINCT ON (d.key) d.key, d.gauges FROM history_counterdelta d"
        " WHERE d.database_id = %s AND d.source = %s AND d.gauges IS NOT NULL"
        " AND d.period_start >= %s AND d.period_start < %s"
        " ORDER BY d.key, d.period_start DESC, d.level",
        [database.id, source, start, end],
    )
    # Django's connection returns jsonb as text (its JSONField parses it).
    return {
        row["key"]: json.loads(row["gauges"])
        if isinstance(row["gauges"], str)
        else row["gauges"]
        for row in rows
    }


def bucket_sql(level):
    """Return the SQL expression of a row's period at a level."""
    if level == Level.RAW:
        return "d.period_start"
    unit = "hour" if level == Level.HOURLY else "day"
    return f"date_trunc('{unit}', d.period_start, 'UTC')"


def collections(database, parts, level, source):
    """Return {period: (collections that read source, seconds covered)}."""
    where, params = segment_filter(database, parts)
    rows = fetch(
        f"SELECT {bucket_sql(level)} AS bucket,"
        " sum(coalesce((d.counters ->> 'ok')::numeric, 0)"
        "     - coalesce((d.counters ->> %s)::numeric, 0)) AS read,"
        " sum(coalesce((d.counters ->> 'seconds')::numeric, 0)) AS seconds"
        f" FROM history_counterdelta d WHERE ({where})"
        " AND d.source = 'collection' GROUP BY 1",
        [f"missing:{source}", *params],
    )
    return {row["bucket"]: (int(row["read"]), float(row["seconds"])) for row in rows}


def grid(start, end, step):
    """Return every period start of a level in [start, end)."""
    moment = start.astimezone(timezone.get_fixed_timezone(0))
    if step == timedelta(days=1):
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        moment = moment.replace(minute=0, second=0, microsecond=0)
    if moment < start:
        moment += step
    periods = []
    while moment < end:
        periods.append(moment)
        moment += step
    return periods
