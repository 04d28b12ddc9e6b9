"""The collector stores what the statistics views say happened between two
collections, on a real PostgreSQL, with resets, faults and two collectors."""

import threading
import time

import pytest
from django.db import connection

from perfconsole.history.collector import LOCK_CLASS, collect
from perfconsole.history.models import (
    CounterDelta,
    Snapshot,
    StatementBaseline,
    StatementDelta,
    StatementText,
)
from tests.conftest import forget_statements_of_this_database

from .conftest import flush_statistics, statement_row, table_row


def delta_of(queryid, snapshot):
    """Return the stored delta of one statement in one snapshot, or None."""
    return StatementDelta.objects.filter(
        statement__queryid=queryid, period_start=snapshot.taken_at, level=0
    ).first()


def counters_of(source, key, snapshot):
    row = CounterDelta.objects.filter(
        source=source, key=key, period_start=snapshot.taken_at, level=0
    ).first()
    return row.counters if row else {}


def test_first_collection_stores_no_lifetime_totals(history_db, probe, collected):
    _table, marker = probe
    queryid = marker(3)
    outcome = collected()
    first = outcome.snapshot
    assert first.status == Snapshot.OK, first.error
    assert first.interval_seconds is None
    assert not StatementDelta.objects.exists()
    assert not CounterDelta.objects.exclude(
        source__in=["activity", "collection"]
    ).exists()
    assert StatementBaseline.objects.filter(queryid=queryid).exists()
    # Sizes are read at most every STATS_SIZES_INTERVAL_SECONDS.
    assert "size" in outcome.stored
    assert "size" not in collected().stored


def test_deltas_equal_the_views_differences(history_db, probe, collected):
    table, marker = probe
    queryid = marker(1)
    collected()
    before, table_before = statement_row(f"{table[7:]}_marker"), table_row(table)
    marker(7)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET note = 'x' WHERE id <= 5")
        cursor.execute(f"DELETE FROM {table} WHERE id = 200")
        flush_statistics(cursor)
    after, table_after = statement_row(f"{table[7:]}_marker"), table_row(table)
    second = collected().snapshot

    stored = delta_of(queryid, second)
    assert stored is not None
    for column in ("calls", "rows", "shared_blks_hit", "shared_blks_read"):
        assert getattr(stored, column) == after[column] - before[column], column
    assert stored.calls == 7
    assert stored.total_exec_time == pytest.approx(
        after["total_exec_time"] - before["total_exec_time"], rel=1e-9, abs=1e-9
    )
    counters = counters_of("table", table, second)
    for column, value in table_after.items():
        assert counters.get(column, 0) == value - table_before[column], column
    assert counters["n_tup_upd"] == 5 and counters["n_tup_del"] == 1
    assert second.interval_seconds > 0
    # The text is stored once, however many snapshots have the statement.
    collected()
    marker(2)
    third = collected().snapshot
    assert delta_of(queryid, third).calls == 2
    assert StatementText.objects.filter(queryid=queryid).count() == 1
    assert f"{table[7:]}_marker" in StatementText.objects.get(queryid=queryid).query


def test_unchanged_entries_get_no_row(history_db, probe, collected):
    _table, marker = probe
    queryid = marker(2)
    collected()
    quiet = collected().snapshot
    assert delta_of(queryid, quiet) is None
    rows = StatementDelta.objects.filter(period_start=quiet.taken_at)
    assert all(row.calls > 0 for row in rows)


def test_reset_starts_a_new_baseline_without_negative_values(
    history_db, probe, collected
):
    table, marker = probe
    queryid = marker(9)
    collected()
    marker(1)
    collected()
    with connection.cursor() as cursor:
        # Only this entry and this test database: other tools' counters stay.
        cursor.execute("SELECT pg_stat_statements_reset(0, 0, %s)", [queryid])
        cursor.execute("SELECT pg_stat_reset()")
    marker(2)
    after_reset = collected().snapshot
    assert delta_of(queryid, after_reset).calls == 2
    negative = [
        (row.source, row.key, name)
        for row in CounterDelta.objects.all()
        for name, value in row.counters.items()
        if value < 0
    ]
    assert negative == []
    assert not StatementDelta.objects.filter(calls__lt=0).exists()
    assert not StatementDelta.objects.filter(total_exec_time__lt=0).exists()
    # The next interval is measured from the new baseline.
    marker(3)
    assert delta_of(queryid, collected().snapshot).calls == 3


def test_evicted_and_re_added_entry_counts_from_zero(history_db, probe, collected):
    _table, marker = probe
    queryid = marker(5)
    collected()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_statements_reset(0, 0, %s)", [queryid])
    # Gone at this collection: its baseline leaves with it.
    collected()
    assert not StatementBaseline.objects.filter(
        statement=StatementText.objects.get(queryid=queryid)
    ).exists()
    marker(4)
    assert delta_of(queryid, collected().snapshot).calls == 4


def test_a_locked_source_is_recorded_missing_and_the_next_carries_on(
    history_db, probe, collected, second_connection
):
    table, marker = probe
    queryid = marker(1)
    collected()
    blocker = second_connection(autocommit=False)
    blocker.execute(
        "LOCK TABLE history_baseline, history_statementbaseline"
        " IN ACCESS EXCLUSIVE MODE"
    )
    marker(4)
    blocked = collected().snapshot
    blocker.rollback()
    assert blocked.status == Snapshot.PARTIAL
    assert "statement" in blocked.missing and "database" in blocked.missing
    assert "lock timeout" in blocked.error
    assert delta_of(queryid, blocked) is None
    marker(2)
    after = collected().snapshot
    assert after.status == Snapshot.OK, after.error
    # The calls of the failed interval are not lost: they come with the next.
    assert delta_of(queryid, after).calls == 6
    collection = CounterDelta.objects.get(
        source="collection", period_start=blocked.taken_at
    )
    assert collection.counters["missing:statement"] == 1


def test_a_second_collector_skips_while_one_holds_the_lock(
    history_db, collected, second_connection
):
    collected()
    other = second_connection(autocommit=False)
    other.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_CLASS, history_db.id])
    count = Snapshot.objects.count()
    outcome = collect()
    assert outcome.skipped and outcome.snapshot is None
    assert Snapshot.objects.count() == count
    other.rollback()
    assert collect().snapshot is not None


def test_two_collectors_at_once_write_one_snapshot(
    history_db, collected, second_connection, settings
):
    collected()
    settings.MONITORING_LOCK_TIMEOUT_MS = 20000
    settings.MONITORING_STATEMENT_TIMEOUT_MS = 20000
    holder = second_connection(autocommit=False)
    # The first collector stops at its snapshot row, holding the collection
    # lock, while the second one starts.
    holder.execute("LOCK TABLE history_snapshot IN SHARE ROW EXCLUSIVE MODE")
    count = Snapshot.objects.count()
    outcomes = []

    def first_collector():
        try:
            outcomes.append(collect())
        finally:
            connection.close()

    thread = threading.Thread(target=first_collector)
    thread.start()
    # pg_stat_activity is read once per transaction: poll in autocommit.
    waiting = second_connection().cursor()
    for _ in range(100):
        waiting.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE %s",
            ["%history_snapshot%"],
        )
        if waiting.fetchone()[0]:
            break
        time.sleep(0.1)
    second = collect()
    holder.rollback()
    thread.join(30)
    assert second.skipped
    assert outcomes and outcomes[0].snapshot is not None
    assert Snapshot.objects.count() == count + 1


@pytest.fixture
def monitor_role(history_db):
    """Create a role with only pg_monitor (and rights on the history tables)."""
    import uuid

    role = f"history_monitor_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        cursor.execute(f"GRANT pg_monitor TO {role}")
        cursor.execute(
            "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename LIKE 'history\\_%%'"
        )
        (tables,) = cursor.fetchone()
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {role}")
        cursor.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    yield role
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute(f"DROP OWNED BY {role}")
        cursor.execute(f"DROP ROLE {role}")


def test_a_role_with_only_pg_monitor_collects(
    history_db, probe, collected, monitor_role
):
    _table, marker = probe
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {monitor_role}")
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False,)
    collected()
    # The superuser's statement: its text is readable with pg_monitor.
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
    queryid = marker(3)
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {monitor_role}")
    snapshot = collected().snapshot
    assert snapshot.status == Snapshot.OK, snapshot.error
    assert delta_of(queryid, snapshot).calls == 3
    assert "<insufficient privilege>" not in (
        StatementText.objects.get(queryid=queryid).query
    )
    sources = set(
        CounterDelta.objects.filter(period_start=snapshot.taken_at).values_list(
            "source", flat=True
        )
    )
    assert {"database", "table", "wal", "activity"} <= sources


def test_a_killed_backend_is_a_failed_collection_and_the_next_carries_on(
    history_db, probe, collected, second_connection
):
    _table, marker = probe
    queryid = marker(1)
    collected()
    marker(3)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    second_connection().execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.2)
    failed = collect().snapshot
    assert failed is not None and failed.status == Snapshot.FAILED
    assert "could not be reached" in failed.error
    after = collected().snapshot
    assert after.status == Snapshot.OK, after.error
    assert delta_of(queryid, after).calls == 3


def test_a_collection_compiles_nothing_with_jit(history_db, probe, collected):
    """A collection plans without nested loops; before PostgreSQL 18 that puts
    each statement's cost past jit_above_cost, and JIT took about 1 s of each
    of the largest on Debian's 15. The collection turns JIT off with them."""
    _table, marker = probe
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_jit_available(), current_setting('jit')")
        if cursor.fetchone() != (True, "on"):
            pytest.skip("JIT is not available on this server (no llvmjit)")
        forget_statements_of_this_database(cursor)
    collected()
    marker(3)
    collected()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce(sum(jit_functions), 0)"
            " FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database"
            "               WHERE datname = current_database())"
            " AND query LIKE %s",
            ["%INSERT%INTO history_%"],
        )
        statements, compiled = cursor.fetchone()
    assert statements > 0
    assert compiled == 0
