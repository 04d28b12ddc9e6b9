"""Rules judge the last window of the statistics history, on real statements
collected between real snapshots; lifetime counters only without history."""

import importlib
from datetime import timedelta

import pytest

from perfconsole.alerts.evaluation import evaluate_alerts
from perfconsole.alerts.metrics import cache_hit_pct, console_target, seq_scan_pct
from perfconsole.alerts.models import Alert, AlertRule, AlertState, Metric
from perfconsole.history.collector import collect

from .conftest import PROBE_SCHEMA, create_large_table, flush_stats, run

pytestmark = pytest.mark.django_db(transaction=True)


def collected():
    """Collect a snapshot of the statistics; return it."""
    outcome = collect()
    assert outcome.snapshot is not None, outcome.describe()
    return outcome.snapshot


def lifetime_mean(queryid):
    rows = run(
        "SELECT sum(total_exec_time) / sum(calls) FROM pg_stat_statements"
        " WHERE queryid = %s AND dbid = (SELECT oid FROM pg_database"
        " WHERE datname = current_database())",
        [queryid],
    )
    return rows[0][0]


def database_hit_rate():
    rows = run(
        "SELECT 100.0 * blks_hit / nullif(blks_hit + blks_read, 0)"
        " FROM pg_stat_database WHERE datname = current_database()"
    )
    return rows[0][0]


def firing(metric):
    return list(Alert.objects.filter(rule__metric=metric, state=AlertState.FIRING))


def publish(app):
    """Make the application connection's pending statistics visible (PG15+)."""
    if app.info.server_version >= 150000:
        app.execute("SELECT pg_stat_force_next_flush()")


def test_a_regression_in_the_window_fires_though_the_lifetime_mean_hides_it(
    rules, probe, second_connection
):
    table = create_large_table("studies", rows=1)
    # The application's own connection: the console tags its statements.
    app = second_connection()
    sql = f"SELECT pg_sleep(%s), id FROM {table}"
    collected()
    for _ in range(2000):
        app.execute(sql, [0.0])
    fast = collected()
    for _ in range(15):
        app.execute(sql, [0.15])
    slow = collected()
    # The same text may name an earlier test's dropped table (another OID,
    # so another queryid): this test's statement is the one with the calls.
    (queryid,) = run(
        "SELECT queryid FROM pg_stat_statements WHERE query = %s"
        " AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " ORDER BY calls DESC LIMIT 1",
        [f"SELECT pg_sleep($1), id FROM {table}"],
    )[0]
    # Over its lifetime the statement is fast: 2 000 quick calls, 15 slow.
    assert lifetime_mean(queryid) < 100
    rule = rules[Metric.QUERY_MEAN_TIME_MS]
    rule.window_minutes = 1
    rule.save()
    # Judged a minute after the fast collection: the window holds the slow
    # collection only.
    assert slow.taken_at - fast.taken_at < timedelta(seconds=50)
    now = fast.taken_at + timedelta(minutes=1, milliseconds=1)

    evaluate_alerts(now=now)

    (alert,) = [
        a for a in firing(Metric.QUERY_MEAN_TIME_MS) if a.subject == str(queryid)
    ]
    assert alert.value >= 150
    assert "over the last 1 min, 15 calls" in alert.detail


def test_without_history_a_rule_reads_the_lifetime_counters_and_says_so(
    rules, probe, second_connection
):
    table = create_large_table("studies", rows=1)
    second_connection().execute(f"SELECT pg_sleep(0.15), id FROM {table}")

    evaluate_alerts()

    details = [a.detail for a in firing(Metric.QUERY_MEAN_TIME_MS)]
    assert details and all("lifetime counters" in detail for detail in details)
    assert any(PROBE_SCHEMA in detail for detail in details)


def test_cache_hit_rate_judges_the_window_not_the_cold_start(
    rules, probe, second_connection
):
    """Reads of a temporary table larger than temp_buffers miss the cache;
    after the first collection only cached lookups run."""
    app = second_connection()
    app.execute(
        "CREATE TEMPORARY TABLE cold AS SELECT g AS id, repeat('x', 200) AS pad"
        " FROM generate_series(1, 60000) g"
    )
    create_large_table("warm", rows=100)
    flush_stats()
    publish(app)
    run("SELECT pg_stat_reset()")
    # Enough cold reads that the collections' own cached reads never lift
    # the lifetime rate above the rule's limit.
    for _ in range(4):
        app.execute("SELECT count(*) FROM cold")
    publish(app)
    collected()
    for _ in range(1000):
        app.execute(f"SELECT title FROM {PROBE_SCHEMA}.warm WHERE id = 5")
    publish(app)
    last = collected()
    # Lifetime, the cold reads dominate: the rule would fire on them.
    assert database_hit_rate() < 95

    now = last.taken_at + timedelta(seconds=1)
    evaluate_alerts(now=now)

    assert firing(Metric.CACHE_HIT_PCT) == []
    # Judged, and on the window: not merely nothing to judge.
    [judged] = cache_hit_pct(rules[Metric.CACHE_HIT_PCT], now, console_target())
    assert judged.value >= 95 and "lifetime" not in judged.detail


def test_seq_scan_share_judges_the_window(rules, probe, second_connection):
    table = create_large_table("studies")
    app = second_connection()
    # Sequential scans before the history starts, index lookups after.
    app.execute("SET enable_indexscan = off; SET enable_bitmapscan = off")
    for _ in range(5):
        app.execute(f"SELECT count(*) FROM {table} WHERE title = 'x'")
    app.execute("RESET enable_indexscan; RESET enable_bitmapscan")
    publish(app)
    collected()
    for key in range(1, 11):
        app.execute(f"SELECT title FROM {table} WHERE id = %s", [key])
    publish(app)
    last = collected()
    seq, idx = run(
        "SELECT seq_scan, idx_scan FROM pg_stat_user_tables"
        " WHERE schemaname = %s AND relname = 'studies'",
        [PROBE_SCHEMA],
    )[0]
    # Lifetime, a third of the scans were sequential: over the rule's 20 %.
    assert 100 * seq / (seq + idx) > 20

    now = last.taken_at + timedelta(seconds=1)
    evaluate_alerts(now=now)

    subject = f"{PROBE_SCHEMA}.studies"
    assert subject not in [a.subject for a in firing(Metric.SEQ_SCAN_PCT)]
    # Judged, and on the window: not merely left out.
    rule = rules[Metric.SEQ_SCAN_PCT]
    judged_now = seq_scan_pct(rule, now, console_target())
    [judged] = [o for o in judged_now if o.subject == subject]
    assert judged.value < 20 and "0 sequential and" in judged.detail


def test_the_seeded_slow_query_rule_judges_a_quarter_of_an_hour(rules):
    from django.apps import apps

    windows = importlib.import_module(
        "perfconsole.alerts.migrations.0004_rule_window_minutes"
    )
    edited = rules[Metric.CACHE_HIT_PCT]
    edited.window_minutes = 5
    edited.save()

    windows.set_seeded_windows(apps, None)

    assert AlertRule.objects.get(name="Slow critical query").window_minutes == 15
    assert AlertRule.objects.get(pk=edited.pk).window_minutes == 5
    assert AlertRule.objects.get(name="Dead tuples").window_minutes == 60
