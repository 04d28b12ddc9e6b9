"""Tables and indexes over a window, read from the statistics history.

The relations come from the current catalog (the index and table pages'
views and filters), joined with what the history holds for them: an index
never scanned has no delta row, yet it is the one the index page is about.
The history stores a relation's row only when something changed, so where
it starts matters: an index is "unused" for a window only if the history
watched it through the whole window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from perfconsole.core import formatting

from .dashboard import Periods, as_dict, chart, chart_data, per_hour
from .models import Level, MonitoredDatabase
from .windows import (
    UNITS,
    change,
    counter_sums,
    fetch,
    pick_level,
    previous_window,
)

SIZE_GAUGES = {"table_bytes": "table", "index_bytes": "indexes", "toast_bytes": "TOAST"}
# A rolled row stands for its whole period: what it holds may date from
# any moment of it, so it counts as seen at the period's end.
SPANS = {Level.RAW: timedelta(0), **UNITS}


def levels_sql():
    """Return a VALUES list of (level, span) and its params."""
    rows = ", ".join("(%s, %s::interval)" for _ in SPANS)
    params: list = []
    for level, span in SPANS.items():
        params += [int(level), span]
    return f"(VALUES {rows}) AS l(level, span)", params


def history_start(database):
    """Return when the history started watching: its first collection.

    The first collection sets the baselines; every change after it is in a
    delta row. None before any collection.
    """
    levels, params = levels_sql()
    rows = fetch(
        "SELECT min(f.seen) AS seen FROM " + levels + " CROSS JOIN LATERAL ("
        " SELECT d.period_start + l.span AS seen FROM history_counterdelta d"
        " WHERE d.database_id = %s AND d.level = l.level"
        " AND d.source = 'collection' AND d.counters ? 'ok'"
        " ORDER BY d.period_start LIMIT 1) f",
        [*params, database.id],
    )
    return rows[0]["seen"] if rows else None


def first_rows(database, source, keys):
    """Return {key: the latest moment its first delta row may date from}.

    A relation gets its first row when the history first sees it (created
    after the history started) or when it first changes; a key without any
    row is missing from the result.
    """
    if not keys:
        return {}
    levels, params = levels_sql()
    rows = fetch(
        "SELECT k.key, min(f.seen) AS seen FROM unnest(%s::text[]) AS k(key)"
        " CROSS JOIN " + levels + " CROSS JOIN LATERAL ("
        " SELECT d.period_start + l.span AS seen FROM history_counterdelta d"
        " WHERE d.database_id = %s AND d.source = %s AND d.key = k.key"
        " AND d.level = l.level ORDER BY d.period_start LIMIT 1) f"
        " GROUP BY k.key",
        [list(keys), *params, database.id, source],
    )
    return {row["key"]: row["seen"] for row in rows}


def gauges_before(database, source, keys, moment):
    """Return {key: the last gauges stored before moment} of a source.

    Per level, the last row whose period ended by then; of those, the one
    standing for the latest moment.
    """
    if not keys:
        return {}
    bounds = ", ".join("(%s, %s::timestamptz, %s::interval)" for _ in SPANS)
    params: list = []
    for level, span in SPANS.items():
        # A raw row is a moment: before means strictly before. A rolled
        # row's period must have ended: its start at most a span before.
        limit = moment if not span else moment - span + timedelta(microseconds=1)
        params += [int(level), limit, span]
    rows = fetch(
        "SELECT DISTINCT ON (k.key) k.key, f.gauges"
        " FROM unnest(%s::text[]) AS k(key)"
        f" CROSS JOIN (VALUES {bounds}) AS l(level, bound, span)"
        " CROSS JOIN LATERAL ("
        " SELECT d.period_start, d.gauges FROM history_counterdelta d"
        " WHERE d.database_id = %s AND d.source = %s AND d.key = k.key"
        " AND d.level = l.level AND d.period_start < l.bound"
        " AND d.gauges IS NOT NULL"
        " ORDER BY d.period_start DESC LIMIT 1) f"
        " ORDER BY k.key, f.period_start + l.span DESC, l.level",
        [list(keys), *params, database.id, source],
    )
    return {row["key"]: as_dict(row["gauges"]) for row in rows}


def baselines(database, source, keys):
    """Return {key: gauges} of the objects the history has a baseline of."""
    if not keys:
        return {}
    rows = fetch(
        "SELECT b.key, b.gauges FROM history_baseline b"
        " WHERE b.database_id = %s AND b.source = %s AND b.key = ANY(%s::text[])",
        [database.id, source, list(keys)],
    )
    return {row["key"]: as_dict(row["gauges"]) for row in rows}


def size_of(gauges):
    """Return a table's total bytes (main fork, indexes, TOAST), or None."""
    if gauges is None:
        return None
    return sum(int(gauges.get(name, 0)) for name in SIZE_GAUGES)


def sizes_at(database, keys, moment, *, first, baseline, began):
    """Return {key: total bytes at moment} where the history knows it.

    Sizes are stored when they change: the last row before the moment holds
    it. A table without any size row kept the size of its baseline since
    the first reading (from `began` on); one whose first row comes later had
    a size before that the history never stored (the first reading stores
    no row).
    """
    sizes = {
        key: size_of(gauges)
        for key, gauges in gauges_before(database, "size", keys, moment).items()
    }
    if began is None or moment < began:
        return sizes
    for key in keys:
        if key not in sizes and key not in first and key in baseline:
            sizes[key] = size_of(baseline[key])
    return sizes


def table_rows(database, start, end, tables):
    """Return the tables of the catalog with what they did in [start, end).

    tables are dicts of the catalog (schema_name, table_name, key, ...);
    each comes back with the window's scans, writes, vacuums and analyzes,
    the seq scans of the window before and their change, live and dead rows
    (the last stored by the window's end), the size at the end and the
    growth over the window (None where the history holds no size from then).
    """
    keys = [table["key"] for table in tables]
    level = pick_level(start, end)
    current = counter_sums(database, "table", start, end, level)
    before = counter_sums(database, "table", *previous_window(start, end), level)
    counts = gauges_before(database, "table", keys, end)
    counted = baselines(database, "table", keys)
    known = {
        "first": first_rows(database, "size", keys),
        "baseline": baselines(database, "size", keys),
        "began": history_start(database),
    }
    at_start = sizes_at(database, keys, start, **known)
    at_end = sizes_at(database, keys, end, **known)
    rows = []
    for table in tables:
        key = table["key"]
        sums = {name: int(value) for name, value in current.get(key, {}).items()}
        seq, idx = sums.get("seq_scan", 0), sums.get("idx_scan", 0)
        previous_seq = int(before.get(key, {}).get("seq_scan", 0))
        # Never changed since the first collection: its baseline's.
        gauges = counts.get(key) or counted.get(key) or {}
        size_start, size_end = at_start.get(key), at_end.get(key)
        rows.append(
            {
                **table,
                "seq_scan": seq,
                "previous_seq_scan": previous_seq,
                # Both nought: no change; a base of nought: "new".
                "seq_scan_change": change(seq, previous_seq)
                if seq or previous_seq
                else 0.0,
                "idx_scan": idx,
                "seq_scan_ratio": 100.0 * seq / (seq + idx) if seq + idx else None,
                "seq_tup_read": sums.get("seq_tup_read", 0),
                "n_tup_ins": sums.get("n_tup_ins", 0),
                "n_tup_upd": sums.get("n_tup_upd", 0),
                "n_tup_del": sums.get("n_tup_del", 0),
                "vacuums": sums.get("vacuum_count", 0)
                + sums.get("autovacuum_count", 0),
                "analyzes": sums.get("analyze_count", 0)
                + sums.get("autoanalyze_count", 0),
                "n_live_tup": gauges.get("n_live_tup"),
                "n_dead_tup": gauges.get("n_dead_tup"),
                "size_bytes": size_end,
                "growth_bytes": None
                if size_start is None or size_end is None
                else size_end - size_start,
            }
        )
    return rows


def index_rows(database, start, end, indexes):
    """Return the indexes of the catalog with their scans in [start, end).

    Each gets the window's idx_scan (its standbys' scans included: each
    keeps its own counts), idx_tup_read and idx_tup_fetch, and watch /
    watch_rank: how long the history saw it unscanned (watch_of).
    """
    keys = [index["key"] for index in indexes]
    sums = counter_sums(database, "index", start, end)
    for standby in MonitoredDatabase.objects.filter(primary=database, enabled=True):
        for key, counters in counter_sums(standby, "index", start, end).items():
            scans = sums.setdefault(key, {})
            scans["idx_scan"] = scans.get("idx_scan", 0) + counters.get("idx_scan", 0)
    first = first_rows(database, "index", keys)
    known = baselines(database, "index", keys)
    began = history_start(database)
    rows = []
    for index in indexes:
        key = index["key"]
        counters = sums.get(key, {})
        scans = int(counters.get("idx_scan", 0))
        rank, words = watch_of(
            scans, start, end, first=first.get(key), known=key in known, began=began
        )
        rows.append(
            {
                **index,
                "idx_scan": scans,
                "idx_tup_read": int(counters.get("idx_tup_read", 0)),
                "idx_tup_fetch": int(counters.get("idx_tup_fetch", 0)),
                "watch_rank": rank,
                "watch": words,
            }
        )
    return rows


def watch_of(scans, start, end, *, first, known, began):
    """Return (rank, words) of how long the history saw an index unscanned.

    rank 0: unused through the whole window; 1: no scans since it was first
    seen inside the window; 2: no scans, but the history does not reach the
    window's start; 3: not known in the window; 4: scanned in it.
    """
    if scans:
        return 4, f"{scans:,} scans"
    if began is None or (first is None and not known):
        return 3, "not collected yet"
    if first is not None and first >= end:
        return 3, f"first recorded after the window ({moment(first)})"
    since = max(first or began, began)
    if first is not None and first > start:
        return 1, f"no scans since {moment(since)} (first seen)"
    if since > start:
        return 2, f"no scans since {moment(since)} (watched only since then)"
    return 0, f"unused for {duration(end - start)}"


def moment(value: datetime) -> str:
    """Return a moment as the console shows it."""
    return formatting.timestamp(value)


def duration(span: timedelta) -> str:
    """Return a window's length in words: "7 days", "6 hours", "1 h 30 min"."""
    seconds = span.total_seconds()
    for unit, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= unit and seconds % unit == 0:
            count = int(seconds // unit)
            return f"{count} {name}" if count == 1 else f"{count} {name}s"
    return formatting.seconds(seconds)


def table_chart_data(database, key, start, end):
    """Return one table's charts over a window: sizes, scans, writes, rows.

    Sizes and live/dead rows are gauges stored when they change: each
    period shows the last value known by then, starting from the last one
    before the window.
    """
    periods = Periods(database, start, end)
    sums = periods.sums("table", TABLE_CHART_COUNTERS, key=key)

    def rate(label, name):
        return (label, periods.series("table", sums, per_hour(name)))

    sizes = carried(periods, "size", key, list(SIZE_GAUGES))
    rows = carried(periods, "table", key, ["n_live_tup", "n_dead_tup"])
    charts = [
        chart(
            "t_size",
            "Size",
            "B",
            [(label, sizes[name]) for name, label in SIZE_GAUGES.items()],
            note="Read at most every STATS_SIZES_INTERVAL_SECONDS (default"
            " hourly), stored when it changes.",
        ),
        chart(
            "t_scans",
            "Scans per hour",
            "/h",
            [rate("sequential", "seq_scan"), rate("index", "idx_scan")],
        ),
        chart(
            "t_writes",
            "Rows written per hour",
            "/h",
            [
                rate("inserted", "n_tup_ins"),
                rate("updated", "n_tup_upd"),
                rate("deleted", "n_tup_del"),
            ],
        ),
        chart(
            "t_rows",
            "Live and dead rows",
            "rows",
            [("live", rows["n_live_tup"]), ("dead", rows["n_dead_tup"])],
        ),
    ]
    return chart_data(periods, charts)


TABLE_CHART_COUNTERS = ["seq_scan", "idx_scan", "n_tup_ins", "n_tup_upd", "n_tup_del"]


def carried(periods, source, key, names):
    """Return {gauge: one value per period} of one object, carried forward.

    A gauge row is stored when the value changes, so a period without one
    kept the last value; a period no collection read the source is a gap.
    """
    rows = fetch(
        f"SELECT {periods.bucket} AS bucket, d.gauges FROM history_counterdelta d"
        f" WHERE ({periods.where}) AND d.source = %s AND d.key = %s"
        " AND d.gauges IS NOT NULL ORDER BY d.period_start, d.level DESC",
        [*periods.params, source, key],
    )
    changes = {row["bucket"]: as_dict(row["gauges"]) for row in rows}
    known = gauges_before(periods.database, source, [key], periods.start).get(key)
    values: dict[str, list] = {name: [] for name in names}
    for period in periods.starts:
        known = changes.get(period, known)
        read = periods.read(period, source) > 0
        for name in names:
            value = known.get(name) if known and read else None
            values[name].append(None if value is None else float(value))
    return values
