"""The dashboard's charts: every series of a window in a few queries.

Each source (pg_stat_database, the statements, pg_stat_activity, pg_stat_io,
WAL, checkpoints, sizes) is read by one query that sums all its wanted
counters per period; the collections are read once. A period in which no
collection read a source is None in its series (a gap), never 0.
"""

from __future__ import annotations

import json
from collections import defaultdict

from django.conf import settings
from django.db import connection

from perfconsole.core.db import QUERY_TAG

from .models import Level
from .windows import (
    STATEMENT_COLUMNS,
    UNITS,
    bucket_sql,
    change,
    fetch,
    grid,
    previous_window,
    segment_filter,
    segments,
)

DATABASE_COUNTERS = [
    "xact_commit",
    "xact_rollback",
    "blks_hit",
    "blks_read",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
    "temp_bytes",
    "blk_read_time",
    "blk_write_time",
]
# Checkpoints: pg_stat_checkpointer (17+), else pg_stat_bgwriter.
CHECKPOINT_COUNTERS = {
    "checkpointer": ["num_timed", "num_requested"],
    "bgwriter": ["checkpoints_timed", "checkpoints_req"],
}
THROUGHPUT_COLUMNS = ("calls", "total_exec_time", "total_plan_time")
TOP_WAITS = 5
SIZE_GAUGES = ("table_bytes", "index_bytes", "toast_bytes")


class Periods:
    """The periods of a window and, per source, where collections read it."""

    def __init__(self, database, start, end):
        self.database = database
        self.start, self.end = start, end
        self.memo: dict = {}
        self.level, self.parts = segments(database, start, end)
        self.where, self.params = segment_filter(database, self.parts)
        # Periods as epoch seconds: cheaper to read than timestamps, and what
        # the charts take.
        self.bucket = f"extract(epoch FROM {bucket_sql(self.level)})::float8"
        rows = fetch(
            f"SELECT {self.bucket} AS bucket, d.counters FROM history_counterdelta d"
            f" WHERE ({self.where}) AND d.source = 'collection'",
            self.params,
        )
        # Per period: collections that stored (ok), seconds covered, and
        # how many of them missed each source.
        self.ok: dict[float, int] = defaultdict(int)
        self.seconds: dict[float, float] = defaultdict(float)
        self.missing: dict[float, dict[str, int]] = defaultdict(
            lambda: defaultdict(int)
        )
        for row in rows:
            counters = as_dict(row["counters"])
            bucket = row["bucket"]
            self.ok[bucket] += int(counters.get("ok", 0))
            self.seconds[bucket] += float(counters.get("seconds", 0))
            for name, count in counters.items():
                if name.startswith("missing:"):
                    self.missing[bucket][name[8:]] += int(count)
        if self.level == Level.RAW:
            self.starts = with_gaps(sorted({row["bucket"] for row in rows}))
        elif rows:
            self.starts = [
                moment.timestamp() for moment in grid(start, end, UNITS[self.level])
            ]
        else:
            # Nothing collected in the window: no chart, a sentence instead.
            self.starts = []

    def read(self, period, source):
        """Return how many collections of the period read the source."""
        return self.ok.get(period, 0) - self.missing.get(period, {}).get(source, 0)

    def sums(self, source, counters, key=None):
        """Return {period: {counter: sum}} of a JSON source, in one query.

        counters None reads them all; key, one object of the source (a
        table) rather than all; a source read once is not read again.
        """
        memo = (source, tuple(counters) if counters else None, key)
        if memo not in self.memo:
            self.memo[memo] = self.read_sums(source, counters, key)
        return self.memo[memo]

    def read_sums(self, source, counters, key=None):
        if counters is None:
            return self.read_all_sums(source)
        # One sum per named counter: cheaper than expanding every counter of
        # every row with jsonb_each (pg_stat_database has about 25).
        sums_sql = ", ".join(
            f"sum((d.counters ->> %s)::numeric) AS c{index}"
            for index in range(len(counters))
        )
        one = "" if key is None else " AND d.key = %s"
        rows = fetch(
            f"SELECT {self.bucket} AS bucket, {sums_sql}"
            f" FROM history_counterdelta d WHERE ({self.where}) AND d.source = %s"
            f"{one} GROUP BY 1",
            [*counters, *self.params, source, *([] if key is None else [key])],
        )
        sums: dict[float, dict[str, float]] = {}
        for row in rows:
            sums[row["bucket"]] = {
                name: float(row[f"c{index}"])
                for index, name in enumerate(counters)
                if row[f"c{index}"] is not None
            }
        return sums

    def read_all_sums(self, source):
        """Return the sums of every counter of a source, by period."""
        rows = fetch(
            f"SELECT {self.bucket} AS bucket, e.key AS counter,"
            " sum(e.value::numeric) AS total"
            " FROM history_counterdelta d, jsonb_each(d.counters) e"
            f" WHERE ({self.where}) AND d.source = %s GROUP BY 1, 2",
            [*self.params, source],
        )
        sums: dict[float, dict[str, float]] = defaultdict(dict)
        for row in rows:
            sums[row["bucket"]][row["counter"]] = float(row["total"])
        return sums

    def statement_sums(self, statement_id=None, names=STATEMENT_COLUMNS):
        """Return {period: {column: sum}} of one statement, or of the top-level
        ones (a nested statement's time is in the call that ran it)."""
        where, params = self.where, list(self.params)
        if statement_id is not None:
            where += " AND d.statement_id = %s"
            params.append(statement_id)
        else:
            where += " AND d.statement_id <> ALL(%s)"
            params.append(left_out_statements(self.database, console=False))
        columns = ", ".join(f"sum(d.{name}) AS {name}" for name in names)
        rows = fetch(
            f"SELECT {self.bucket} AS bucket, {columns}"
            f" FROM history_statementdelta d WHERE ({where}) GROUP BY 1",
            params,
        )
        return {
            row.pop("bucket"): {k: float(v or 0) for k, v in row.items()}
            for row in rows
        }

    def series(self, source, sums, value):
        """Return one value per period: value(sums of the period, seconds).

        None where no collection read the source, or where value says so.
        """
        points = []
        for period in self.starts:
            if self.read(period, source) <= 0:
                points.append(None)
                continue
            result = value(sums.get(period, {}), self.seconds.get(period, 0.0))
            points.append(None if result is None else round(result, 3))
        return points

    def sessions(self, period, total):
        """Return the mean number of sessions of a period's activity samples."""
        count = self.read(period, "activity")
        return total / count if count > 0 else None


def with_gaps(starts):
    """Add a period without collection where collections stopped a while.

    Its values are None, so the line breaks there instead of joining the
    points on both sides of, say, an hour the server was down.
    """
    interval = settings.STATS_INTERVAL_SECONDS
    result: list[float] = []
    for moment in starts:
        if result and moment - result[-1] > 2.5 * interval:
            result.append(result[-1] + interval)
        result.append(moment)
    return result


def as_dict(value):
    """Return a jsonb value read by Django's cursor (text) as a dict."""
    return json.loads(value) if isinstance(value, str) else (value or {})


def per_second(*names):
    """Return a value function: the counters' sum per second."""

    def value(sums, seconds):
        if not seconds:
            return None
        return sum(sums.get(name, 0.0) for name in names) / seconds

    return value


def per_hour(*names):
    """Return a value function: the counters' sum per hour."""
    rate = per_second(*names)

    def value(sums, seconds):
        result = rate(sums, seconds)
        return None if result is None else result * 3600

    return value


def hit_rate(sums, _seconds):
    """Return the share of blocks found in shared buffers, in percent."""
    hit, read = sums.get("blks_hit", 0.0), sums.get("blks_read", 0.0)
    return 100.0 * hit / (hit + read) if hit + read else None


def mean_time(sums, _seconds):
    """Return the mean statement time (planning and execution), in ms."""
    calls = sums.get("calls", 0.0)
    if not calls:
        return None
    return (sums.get("total_exec_time", 0.0) + sums.get("total_plan_time", 0.0)) / (
        calls
    )


def chart_data(periods, charts):
    """Return what charts.js reads: times (epoch seconds), zone, charts."""
    return {
        "times": periods.starts,
        "tz": settings.TIME_ZONE,
        "start": int(periods.start.timestamp()),
        "end": int(periods.end.timestamp()),
        "charts": charts,
    }


def chart(key, title, unit, series, note=""):
    """Return one chart's description: series is [(label, values)]."""
    return {
        "id": key,
        "title": title,
        "unit": unit,
        "note": note,
        "series": [{"label": label, "values": values} for label, values in series],
    }


def dashboard_charts(database, start, end):
    """Return {"times": [epoch seconds], "charts": [...]} of a window."""
    periods = Periods(database, start, end)
    database_sums = periods.sums("database", DATABASE_COUNTERS)

    def db(label, value):
        return (label, periods.series("database", database_sums, value))

    charts = [
        chart(
            "tps",
            "Transactions per second",
            "/s",
            [
                db("commits", per_second("xact_commit")),
                db("rollbacks", per_second("xact_rollback")),
            ],
        ),
        *statement_charts(periods),
        chart("cache", "Cache hit rate", "%", [db("hit rate", hit_rate)]),
        chart(
            "io_time",
            "I/O time (read and write, ms of I/O per second)",
            "ms/s",
            [
                db("read", per_second("blk_read_time")),
                db("write", per_second("blk_write_time")),
            ],
            note="Zero unless track_io_timing is on.",
        ),
        evictions_chart(periods),
        activity_chart(periods, "connections", "Connections by state", "state:"),
        activity_chart(periods, "waits", "Top wait events", "wait:", TOP_WAITS),
        chart(
            "rows",
            "Rows written per second",
            "/s",
            [
                db("inserted", per_second("tup_inserted")),
                db("updated", per_second("tup_updated")),
                db("deleted", per_second("tup_deleted")),
            ],
        ),
        chart(
            "temp",
            "Temporary files written",
            "B/s",
            [db("temp bytes", per_second("temp_bytes"))],
        ),
        wal_chart(periods),
        checkpoints_chart(periods),
        size_chart(periods),
        *replication_charts(periods),
    ]
    return chart_data(periods, charts)


def statement_charts(periods):
    """Return the statement throughput and mean time charts."""
    # Only what the two charts need: summing every column costs a third more.
    sums = periods.statement_sums(names=THROUGHPUT_COLUMNS)
    return [
        chart(
            "calls",
            "Statement throughput (top-level statements)",
            "/s",
            [("calls", periods.series("statement", sums, per_second("calls")))],
        ),
        chart(
            "mean_time",
            "Mean statement time",
            "ms",
            [("mean", periods.series("statement", sums, mean_time))],
        ),
    ]


def newer_source(periods, version, source, counters):
    """Return True if the window's server has a source of a PostgreSQL version.

    The console's own server says by its version. A monitored target may
    run another version, and asking it would wait for a target that is
    down: its stored rows say instead.
    """
    if periods.database.is_console_database:
        return connection.pg_version >= version
    return bool(periods.sums(source, counters))


def evictions_chart(periods):
    """Return buffer evictions per second from pg_stat_io (16+)."""
    if not newer_source(periods, 160000, "io", ["evictions"]):
        return chart(
            "evictions",
            "Buffer evictions",
            "/s",
            [],
            note="Not available before PostgreSQL 16 (pg_stat_io).",
        )
    sums = periods.sums("io", ["evictions"])
    return chart(
        "evictions",
        "Buffer evictions",
        "/s",
        [("evictions", periods.series("io", sums, per_second("evictions")))],
    )


def wal_chart(periods):
    """Return WAL bytes per second (pg_stat_wal, 14+)."""
    sums = periods.sums("wal", ["wal_bytes"])
    return chart(
        "wal",
        "WAL written",
        "B/s",
        [("WAL bytes", periods.series("wal", sums, per_second("wal_bytes")))],
    )


def checkpoints_chart(periods):
    """Return checkpoints per hour, timed and requested."""
    newer = newer_source(
        periods, 170000, "checkpointer", CHECKPOINT_COUNTERS["checkpointer"]
    )
    source = "checkpointer" if newer else "bgwriter"
    timed, requested = CHECKPOINT_COUNTERS[source]
    sums = periods.sums(source, [timed, requested])
    return chart(
        "checkpoints",
        "Checkpoints per hour",
        "/h",
        [
            ("timed", periods.series(source, sums, per_hour(timed))),
            ("requested", periods.series(source, sums, per_hour(requested))),
        ],
    )


def activity_chart(periods, key, title, prefix, limit=None):
    """Return the mean sessions per state (or wait event) of each period.

    With limit, only the states or events with the most samples in the
    window, biggest first.
    """
    sums = periods.sums("activity", None)
    totals: dict[str, float] = defaultdict(float)
    for counters in sums.values():
        for name, total in counters.items():
            if name.startswith(prefix):
                totals[name] += total
    names = sorted(totals, key=lambda name: -totals[name])[:limit]
    series = []
    for name in names:
        values = []
        for period in periods.starts:
            if periods.read(period, "activity") <= 0:
                values.append(None)
                continue
            mean = periods.sessions(period, sums.get(period, {}).get(name, 0.0))
            values.append(None if mean is None else round(mean, 3))
        series.append((name[len(prefix) :], values))
    return chart(key, title + " (mean sessions)", "sessions", series)


def size_chart(periods):
    """Return the size of the user tables with their indexes and TOAST.

    Sizes are read at most every STATS_SIZES_INTERVAL_SECONDS and stored
    only for tables whose size changed, so each point (a period where sizes
    changed) adds per table the last size known: a table that did not change
    in the window counts with its latest size (the baseline), one that did
    counts before its first change in the window with the size of that
    change (its size before is in an older row, which would cost a scan of
    the whole history to find).
    """
    rows = fetch(
        f"SELECT {periods.bucket} AS bucket, d.key, d.gauges"
        f" FROM history_counterdelta d WHERE ({periods.where})"
        " AND d.source = 'size' AND d.gauges IS NOT NULL ORDER BY 1",
        periods.params,
    )
    state = {
        row["key"]: size_of(row["gauges"])
        for row in fetch(
            "SELECT b.key, b.gauges FROM history_baseline b"
            " WHERE b.database_id = %s AND b.source = 'size'",
            [periods.database.id],
        )
    }
    changes: dict[float, dict[str, int]] = defaultdict(dict)
    first: dict[str, int] = {}
    for row in rows:
        size = size_of(row["gauges"])
        changes[row["bucket"]][row["key"]] = size
        first.setdefault(row["key"], size)
    state.update(first)
    by_period = {}
    for period in sorted(changes):
        state.update(changes[period])
        by_period[period] = sum(state.values())
    values = [by_period.get(period) for period in periods.starts]
    note = (
        "Read at most every STATS_SIZES_INTERVAL_SECONDS (default hourly); a"
        " point where a size changed."
    )
    return chart(
        "size", "Size of tables, indexes and TOAST", "B", [("size", values)], note
    )


# The replication sample's lines: (key prefix, gauge, label suffix) per chart.
REPLICATION_LINES = {
    "bytes": [
        ("standby:", "replay_behind_bytes", "replay behind"),
        ("slot:", "retained_bytes", "WAL kept"),
        ("replay", "behind_bytes", "received, not replayed"),
    ],
    "seconds": [
        ("standby:", "replay_lag_s", "replay lag"),
        ("replay", "delay_s", "replay delay"),
    ],
}


def replication_charts(periods):
    """Return the replication charts: bytes behind or kept, and lag in seconds.

    One line per standby this server sends to, per slot and, on a standby,
    its own replay; each point is the period's largest value. A period
    where a standby or slot was not there is a gap in its line.
    """
    rows = fetch(
        f"SELECT {periods.bucket} AS bucket, d.key, d.gauges"
        f" FROM history_counterdelta d WHERE ({periods.where})"
        " AND d.source = 'replication' ORDER BY 1, 2",
        periods.params,
    )
    charts = {}
    for kind, lines in REPLICATION_LINES.items():
        points: dict[str, dict[float, float]] = defaultdict(dict)
        for row in rows:
            gauges = as_dict(row["gauges"])
            for prefix, gauge, suffix in lines:
                if not row["key"].startswith(prefix) or gauges.get(gauge) is None:
                    continue
                label = f"{row['key'].removeprefix(prefix)} {suffix}".strip()
                period = points[label]
                period[row["bucket"]] = max(
                    float(gauges[gauge]), period.get(row["bucket"], 0.0)
                )
        charts[kind] = [
            (label, [values.get(start) for start in periods.starts])
            for label, values in sorted(points.items())
        ]
    return [
        chart(
            "replication_bytes",
            "Replication: WAL behind and kept",
            "B",
            charts["bytes"],
            note="Each standby's replay position behind this server's, each "
            "slot's WAL kept, and on a standby the WAL received and not replayed.",
        ),
        chart(
            "replication_seconds",
            "Replication lag",
            "s",
            charts["seconds"],
            note="The replay lag this server measured for each standby, and on "
            "a standby the age of the last replayed transaction while WAL waits.",
        ),
    ]


def size_of(gauges):
    """Return the bytes of one table's size gauges."""
    gauges = as_dict(gauges)
    return sum(int(gauges.get(name, 0)) for name in SIZE_GAUGES)


def statement_chart_data(database, statement_id, start, end):
    """Return the query page's charts of one statement over a window."""
    periods = Periods(database, start, end)
    sums = periods.statement_sums(statement_id)

    def series(label, value):
        return (label, periods.series("statement", sums, value))

    def total(name):
        return lambda period_sums, _seconds: period_sums.get(name, 0.0)

    def total_time(period_sums, _seconds):
        return period_sums.get("total_exec_time", 0.0) + period_sums.get(
            "total_plan_time", 0.0
        )

    charts = [
        chart(
            "q_calls", "Calls per second", "/s", [series("calls", per_second("calls"))]
        ),
        chart("q_mean", "Mean time", "ms", [series("mean", mean_time)]),
        chart("q_total", "Total time", "ms", [series("total", total_time)]),
        chart("q_rows", "Rows", "rows", [series("rows", total("rows"))]),
        chart(
            "q_blocks",
            "Blocks read (from disk or the OS cache)",
            "blocks",
            [series("shared blocks read", total("shared_blks_read"))],
        ),
    ]
    return chart_data(periods, charts)


def left_out_statements(database, console=True):
    """Return the ids of nested statements, and of the console's own.

    Nested statements (toplevel false: inside a function or procedure) are
    already counted in the top-level call that ran them. The console's own
    carry its tag. Read apart from the sums: a join with the texts, tested
    on every delta row, made the top five five times slower over a week.
    """
    condition = "NOT t.toplevel"
    params: list = [database.id]
    if console:
        condition += " OR strpos(t.query, %s) > 0"
        params.append(QUERY_TAG)
    rows = fetch(
        "SELECT t.id FROM history_statementtext t"
        f" WHERE t.database_id = %s AND ({condition})",
        params,
    )
    return [row["id"] for row in rows]


def top_statements(database, start, end, limit):
    """Return the window's statements with the most total time, biggest first.

    Nested statements and the console's own (tagged, core.db.QUERY_TAG) are
    left out.

    Like windows.statement_totals, with the previous window's total time and
    the change, but summing only what the list shows: the top is found in
    SQL, the previous window read for those statements only.
    """
    level, parts = segments(database, start, end)
    where, params = segment_filter(database, parts)
    rows = fetch(
        "SELECT top.*, t.queryid, t.userid, t.toplevel, t.query FROM ("
        " SELECT d.statement_id, sum(d.calls) AS calls,"
        " sum(d.total_exec_time + d.total_plan_time) AS total_time"
        f" FROM history_statementdelta d WHERE {where}"
        " AND d.statement_id <> ALL(%s)"
        " GROUP BY d.statement_id ORDER BY total_time DESC LIMIT %s) top"
        " JOIN history_statementtext t ON t.id = top.statement_id"
        " ORDER BY top.total_time DESC",
        [*params, left_out_statements(database), limit],
    )
    if not rows:
        return []
    _level, before = segments(database, *previous_window(start, end), level)
    where, params = segment_filter(database, before)
    previous = {
        row["statement_id"]: float(row["total_time"] or 0)
        for row in fetch(
            "SELECT d.statement_id,"
            " sum(d.total_exec_time + d.total_plan_time) AS total_time"
            f" FROM history_statementdelta d WHERE {where}"
            " AND d.statement_id = ANY(%s) GROUP BY 1",
            [*params, [row["statement_id"] for row in rows]],
        )
    }
    for row in rows:
        row["calls"] = float(row["calls"] or 0)
        row["total_time"] = float(row["total_time"] or 0)
        row["mean_time"] = row["total_time"] / row["calls"] if row["calls"] else None
        row["previous_total_time"] = previous.get(row["statement_id"], 0.0)
        row["total_time_change"] = change(row["total_time"], row["previous_total_time"])
    return rows
