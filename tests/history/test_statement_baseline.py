"""The statements' baseline (history_statementbaseline): moved from the JSON
baseline by a migration without losing an interval, rewritten in place."""

from django.db import connection, transaction

from perfconsole.history.collector import plan_for_whole_sets, statements_sql
from perfconsole.history.models import (
    Baseline,
    StatementBaseline,
    StatementDelta,
    StatementText,
)
from perfconsole.history.sqlfiles import read_sql
from perfconsole.monitoring.extension import statements_status

from .conftest import flush_statistics


def test_the_migration_carries_the_json_baseline_over(history_db, probe, collected):
    _table, marker = probe
    queryid = marker(2)
    collected()
    marker(1)
    collected()
    entries = StatementBaseline.objects.count()
    # Back to version 1's JSON baseline, as it was before the migration ...
    with connection.cursor() as cursor:
        cursor.execute(read_sql("schema/statement_baseline_reverse_v1.sql"))
        cursor.execute("DELETE FROM history_statementbaseline")
    text = StatementText.objects.get(queryid=queryid)
    assert (
        Baseline.objects.get(source="statement", key=str(text.id)).counters["calls"]
        == 3
    )
    # ... and forward again: every entry keeps its counters and its text.
    with connection.cursor() as cursor:
        cursor.execute(read_sql("schema/statement_baseline_v1.sql"))
    assert not Baseline.objects.filter(source="statement").exists()
    assert StatementBaseline.objects.count() == entries
    moved = StatementBaseline.objects.get(queryid=queryid)
    assert (moved.statement_id, moved.calls) == (text.id, 3)
    marker(4)
    after = collected().snapshot
    # The next collection carries on from the moved baseline: exact deltas,
    # and no row for an entry that did not run (float counters unchanged).
    stored = StatementDelta.objects.filter(period_start=after.taken_at)
    assert stored.get(statement=text).calls == 4
    assert all(row.calls > 0 for row in stored)


def baseline_updates():
    """Return (updates, of which HOT) of history_statementbaseline so far."""
    with connection.cursor() as cursor:
        flush_statistics(cursor)
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
            " WHERE relid = 'history_statementbaseline'::regclass"
        )
        return cursor.fetchone()


def test_baseline_updates_stay_on_their_page(history_db, probe, collected):
    """Every entry rewritten at each collection: the updates stay on their
    page (HOT: no index entry), which the table's fillfactor leaves room for."""
    _table, marker = probe
    table = probe[0].split(".")[1]
    with connection.cursor() as cursor:
        # Many entries, all run again before every collection (the worst case).
        shapes = [
            f"SELECT {', '.join(['id'] * width)} FROM {table} WHERE id = 1"
            for width in range(1, 201)
        ]
        for sql in shapes:
            cursor.execute(sql)
    marker(1)
    collected()
    updates, hot = baseline_updates()
    for _ in range(3):
        with connection.cursor() as cursor:
            for sql in shapes:
                cursor.execute(sql)
        marker(1)
        collected()
    after_updates, after_hot = baseline_updates()
    assert after_updates - updates >= 3 * 200
    # Not all: a page is cleaned of the versions a collection left only when
    # no older transaction of the server (another database's included) still
    # runs, which a shared test server cannot promise.
    assert after_hot - hot >= 0.9 * (after_updates - updates)


def test_a_lost_baseline_is_set_again_without_deltas(history_db, probe, collected):
    """The baseline is unlogged: after a crash it is empty, its entries' texts
    are still stored; the next collection only sets it again."""
    _table, marker = probe
    queryid = marker(2)
    collected()
    StatementBaseline.objects.all().delete()
    marker(3)
    after_loss = collected().snapshot
    assert not StatementDelta.objects.filter(period_start=after_loss.taken_at).exists()
    assert StatementBaseline.objects.filter(queryid=queryid).exists()
    # Its text is found again, not stored twice.
    assert StatementText.objects.filter(queryid=queryid).count() == 1
    marker(4)
    stored = StatementDelta.objects.filter(period_start=collected().snapshot.taken_at)
    assert stored.get(statement__queryid=queryid).calls == 4


def plan_nodes(node):
    """Yield every node of an EXPLAIN (FORMAT JSON) plan."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def test_entries_meet_their_baseline_in_one_full_join(history_db, probe, collected):
    """On tables never analyzed (a new install) every estimate is a few rows:
    a join that may be a nested loop compared each of 5 000 entries with
    every baseline row and timed out. A full join is hashed (or merged)."""
    _table, marker = probe
    marker(1)
    collected()
    sql = statements_sql(statements_status())
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        (now,) = cursor.fetchone()
        cursor.execute(
            "EXPLAIN (FORMAT JSON) " + sql,
            {"database": history_db.id, "taken_at": now, "source": "statement"},
        )
        (plan,) = cursor.fetchone()
    nodes = list(plan_nodes(plan[0]["Plan"]))
    diff = next(node for node in nodes if node.get("Subplan Name") == "CTE diff")
    assert diff.get("Join Type") == "Full", diff
    assert diff["Node Type"] in ("Hash Join", "Merge Join")
    scans = [node.get("Relation Name") for node in plan_nodes(diff)]
    assert "history_statementbaseline" in scans


def test_a_first_collection_joins_new_entries_without_nested_loops(
    history_db, probe, collected
):
    """Every entry is new at a first collection: before 17 the planner,
    blind to the CTEs' row counts, looked each one's text up in a nested loop
    over all of them (5 000 entries: past the statement timeout on 15)."""
    _table, marker = probe
    marker(1)
    sql = statements_sql(statements_status())
    with transaction.atomic(), connection.cursor() as cursor:
        plan_for_whole_sets(cursor)
        cursor.execute("SELECT now()")
        (now,) = cursor.fetchone()
        cursor.execute(
            "EXPLAIN (FORMAT JSON) " + sql,
            {"database": history_db.id, "taken_at": now, "source": "statement"},
        )
        (plan,) = cursor.fetchone()
    loops = [
        node
        for node in plan_nodes(plan[0]["Plan"])
        if node["Node Type"] == "Nested Loop"
    ]
    assert loops == []
    # The setting ends with the collection's transaction.
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_nestloop")
        assert cursor.fetchone() == ("on",)
