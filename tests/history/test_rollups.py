"""Rollups keep sums exactly, retention prunes the right rows, and windows
read the right level, on rows stored by real collections."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from perfconsole.history import recent, windows
from perfconsole.history.dashboard import Periods
from perfconsole.history.models import (
    CounterDelta,
    Level,
    MonitoredDatabase,
    Snapshot,
    StatementDelta,
)
from perfconsole.history.rollups import prune, rollup

INTEGER_COLUMNS = (
    "calls",
    "rows",
    "shared_blks_hit",
    "shared_blks_read",
    "temp_blks_written",
    "wal_bytes",
)


@pytest.fixture
def history(history_db, probe, collected):
    """Store a few real collections with statements run between them."""
    table, marker = probe
    collected()
    for times in (3, 5, 2):
        marker(times)
        collected()
    return table, marker


def commits(db, start, end):
    """Return {period: commits} as the dashboard's chart reads them."""
    periods = Periods(db, start, end)
    sums = periods.sums("database", ["xact_commit"])
    points = periods.series("database", sums, lambda s, _: s.get("xact_commit", 0))
    return dict(zip(periods.starts, points, strict=True))


def level_sums(level):
    return StatementDelta.objects.filter(level=level).aggregate(
        **{name: Sum(name) for name in (*INTEGER_COLUMNS, "total_exec_time")}
    )


def counter_sums(level):
    sums = {}
    for row in CounterDelta.objects.filter(level=level):
        for name, value in row.counters.items():
            key = (row.source, row.key, name)
            sums[key] = sums.get(key, 0) + Decimal(str(value))
    return sums


def database(history_db):
    return MonitoredDatabase.objects.get(pk=history_db.pk)


def test_rollups_preserve_sums_exactly(history, history_db):
    last = Snapshot.objects.latest().taken_at
    done = rollup(history_db, now=last + timedelta(days=2))
    assert done["hourly"] and done["daily"]
    raw, hourly, daily = (level_sums(level) for level in Level)
    for name in INTEGER_COLUMNS:
        assert raw[name] == hourly[name] == daily[name], name
    assert raw["calls"] >= 10
    assert hourly["total_exec_time"] == pytest.approx(raw["total_exec_time"])
    assert counter_sums(Level.RAW) == counter_sums(Level.HOURLY)
    assert counter_sums(Level.HOURLY) == counter_sums(Level.DAILY)
    # Rolling again changes nothing.
    rollup(history_db, now=last + timedelta(days=2))
    assert level_sums(Level.HOURLY) == hourly


def test_retention_prunes_only_rolled_rows_past_their_age(
    history, history_db, settings
):
    last = Snapshot.objects.latest().taken_at
    raw_rows = StatementDelta.objects.filter(level=Level.RAW).count()
    assert raw_rows
    # Not rolled up yet: nothing raw is pruned, however old.
    prune(database(history_db), now=last + timedelta(days=3))
    assert StatementDelta.objects.filter(level=Level.RAW).count() == raw_rows

    rollup(history_db, now=last + timedelta(days=3))
    # Within raw retention: kept.
    prune(database(history_db), now=last + timedelta(days=1))
    assert StatementDelta.objects.filter(level=Level.RAW).count() == raw_rows
    prune(database(history_db), now=last + timedelta(days=3))
    assert not StatementDelta.objects.filter(level=Level.RAW).exists()
    assert not CounterDelta.objects.filter(level=Level.RAW).exists()
    assert not Snapshot.objects.exists()
    assert StatementDelta.objects.filter(level=Level.HOURLY).exists()

    prune(database(history_db), now=last + timedelta(days=91))
    assert not StatementDelta.objects.filter(level=Level.HOURLY).exists()
    assert StatementDelta.objects.filter(level=Level.DAILY).exists()

    prune(database(history_db), now=last + timedelta(days=732))
    assert not StatementDelta.objects.filter(level=Level.DAILY).exists()
    assert not CounterDelta.objects.exists()


def test_statement_totals_agree_across_levels(history, history_db):
    _table, marker = history
    last = Snapshot.objects.latest().taken_at
    queryid = marker(0)
    start, end = last - timedelta(hours=1), last + timedelta(seconds=1)
    recent = {
        row["queryid"]: row
        for row in windows.statement_totals(database(history_db), start, end)
    }
    assert windows.pick_level(start, end) == Level.RAW
    assert recent[queryid]["calls"] == 10
    assert recent[queryid]["mean_time"] > 0
    assert recent[queryid]["previous_calls"] == 0

    rollup(history_db, now=last + timedelta(days=2))
    db = database(history_db)
    week = (last - timedelta(days=7), last + timedelta(days=1))
    level, parts = windows.segments(db, *week)
    assert level == Level.HOURLY and parts[0].level == Level.HOURLY
    totals = {row["queryid"]: row for row in windows.statement_totals(db, *week)}
    assert totals[queryid]["calls"] == 10
    year = (last - timedelta(days=300), last + timedelta(days=1))
    assert windows.pick_level(*year) == Level.DAILY
    totals = {row["queryid"]: row for row in windows.statement_totals(db, *year)}
    assert totals[queryid]["calls"] == 10


def test_windows_read_the_tail_not_rolled_yet_from_raw_rows(history, history_db):
    _table, marker = history
    last = Snapshot.objects.latest().taken_at
    # Nothing rolled: a week's window still sees the raw rows.
    week = (last - timedelta(days=7), last + timedelta(seconds=1))
    queryid = marker(0)
    totals = {
        row["queryid"]: row
        for row in windows.statement_totals(database(history_db), *week)
    }
    assert totals[queryid]["calls"] == 10


def test_table_totals_and_change_against_the_previous_window(history, history_db):
    table, marker = history
    last = Snapshot.objects.latest().taken_at
    rows = {
        row["key"]: row
        for row in windows.table_totals(
            database(history_db), last - timedelta(hours=1), last + timedelta(seconds=1)
        )
    }
    # Each marker statement scans the probe table once (sequential or index).
    scans = rows[table]["counters"]
    assert scans.get("seq_scan", 0) + scans.get("idx_scan", 0) >= 10
    # Gauges: the last values read, as the view has them now.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_live_tup FROM pg_stat_user_tables WHERE relid = %s::regclass",
            [table],
        )
        (live,) = cursor.fetchone()
    assert rows[table]["gauges"]["n_live_tup"] == live > 0
    assert windows.change(12.0, 10.0) == 20.0
    assert windows.change(5.0, 0.0) is None


def test_series_shows_a_gap_where_a_source_was_not_read(
    history, history_db, probe, collected, second_connection
):
    _table, marker = history
    blocker = second_connection(autocommit=False)
    blocker.execute("LOCK TABLE history_baseline IN ACCESS EXCLUSIVE MODE")
    blocked = collected().snapshot
    blocker.rollback()
    marker(1)
    collected()
    last = Snapshot.objects.latest().taken_at
    series = commits(
        database(history_db), last - timedelta(hours=1), last + timedelta(seconds=1)
    )
    assert series[blocked.taken_at.timestamp()] is None
    values = [v for start, v in series.items() if start != blocked.taken_at.timestamp()]
    assert all(value is not None for value in values[1:])
    assert any(value > 0 for value in values[1:])
    # The same gap survives the hourly rollup: the hour still had readings.
    rollup(history_db, now=last + timedelta(days=2))
    hourly = commits(
        database(history_db), last - timedelta(days=3), last + timedelta(days=1)
    )
    assert [v for v in hourly.values() if v is not None]
    assert [v for v in hourly.values() if v is None]  # hours without collections


def test_windows_of_alert_rules_count_the_collections_they_cover(history, history_db):
    _table, marker = history
    last = Snapshot.objects.latest().taken_at
    queryid = marker(0)
    now = last + timedelta(seconds=1)

    window = recent.covering(30, now, "statement")
    calls = {
        row["queryid"]: row["calls"]
        for row in windows.statement_totals(window.database, window.start, window.end)
    }
    assert calls[queryid] == 10
    level, parts = windows.segments(window.database, window.start, window.end)
    read = windows.collections(window.database, parts, level, "statement")
    assert sum(count for count, _seconds in read.values()) == 4
    # A day earlier nothing was collected: no window to judge.
    assert recent.covering(30, last - timedelta(days=1), "database") is None
