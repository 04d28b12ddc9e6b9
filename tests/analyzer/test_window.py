"""With statistics history the analyzer judges the last window, not lifetime
counters: real cold reads and slow statements before the first collection,
real cached reads and statements between collections."""

import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from perfconsole.analyzer.report import Options, build_report
from perfconsole.history.collector import collect

from .conftest import flush_statistics

WARM = "analyzer_window_warm"


def publish(app):
    """Make the application connection's pending statistics visible (PG15+)."""
    if app.info.server_version >= 150000:
        app.execute("SELECT pg_stat_force_next_flush()")


def collected():
    outcome = collect()
    assert outcome.snapshot is not None, outcome.describe()


def database_hit_rate():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 100.0 * blks_hit / nullif(blks_hit + blks_read, 0)"
            " FROM pg_stat_database WHERE datname = current_database()"
        )
        return cursor.fetchone()[0]


@pytest.fixture
def app(transactional_db, second_connection):
    """Return the application's connection, with a small cached table."""
    conn = second_connection()
    conn.execute(f"CREATE TABLE {WARM} (id int PRIMARY KEY, title text)")
    conn.execute(
        f"INSERT INTO {WARM} SELECT g, 't' || g FROM generate_series(1, 100) g"
    )
    yield conn
    conn.execute(f"DROP TABLE IF EXISTS {WARM}")


def report():
    return build_report(Options.from_settings(trial_indexes=False))


def test_cache_hit_rate_with_history_is_the_windows(app, settings):
    # Autovacuum may read a few blocks in the window: the levels leave room.
    settings.HEALTH_THRESHOLDS = {
        **settings.HEALTH_THRESHOLDS,
        "cache_hit_rate_warning": 95,
        "cache_hit_rate_critical": 90,
    }
    # Reads of a temporary table larger than temp_buffers miss the cache.
    app.execute(
        "CREATE TEMPORARY TABLE cold AS SELECT g AS id, repeat('x', 200) AS pad"
        " FROM generate_series(1, 60000) g"
    )
    publish(app)
    # The test's own connection publishes what it read in earlier tests now,
    # not after the reset.
    flush_statistics()
    app.execute("SELECT pg_stat_reset()")
    for _ in range(5):
        app.execute("SELECT count(*) FROM cold")
    publish(app)
    collected()
    for _ in range(1000):
        app.execute(f"SELECT title FROM {WARM} WHERE id = 5")
    publish(app)
    collected()
    # Lifetime, the cold reads dominate.
    assert database_hit_rate() < 90

    result = report()

    assert result.window == "over the last 24 h"
    cache = {t.name: t for t in result.targets}["Cache hit rate"]
    assert cache.met is True, cache
    assert "over the last 24 h" in cache.detail
    assert not [
        f
        for f in result.findings
        if f.check == "cache_hit_rate" and f.severity != "info"
    ]


def test_without_history_the_report_says_it_reads_lifetime_counters(app):
    result = report()
    assert result.window == "lifetime counters: no statistics history yet"
    cache = {t.name: t for t in result.targets}["Cache hit rate"]
    assert "statistics history" not in cache.detail


def test_slow_queries_are_those_of_the_window(app, settings):
    settings.MONITORING_SLOW_QUERY_MS = 5
    settings.MONITORING_SLOW_QUERY_CALLS = 3
    # Two shapes (aliases alone do not make another query id).
    before = f"SELECT pg_sleep(%s) AS before_window, title FROM {WARM} WHERE id = 1"
    within = f"SELECT pg_sleep(%s) AS within_window, id FROM {WARM} WHERE id > 99"
    for _ in range(4):
        app.execute(before, [0.01])
    collected()
    for _ in range(4):
        app.execute(within, [0.01])
    collected()

    queries = [
        f.evidence["query"] for f in report().findings if f.check == "slow_query"
    ]

    assert any("within_window" in query for query in queries), queries
    # Slow over its lifetime, but not run in the window.
    assert not any("before_window" in query for query in queries), queries


def test_analyzedb_window_hours_out_of_range_is_a_command_error(db):
    with pytest.raises(CommandError, match="--window-hours must be at least 1"):
        call_command("analyzedb", "--window-hours", "0")


def test_the_admin_page_says_over_which_window(admin_client, app):
    url = reverse("admin:analyzer_analyzerreport_changelist")
    page = admin_client.get(url).content.decode()
    assert "lifetime counters: no statistics history yet" in page

    collected()
    app.execute(f"SELECT title FROM {WARM} WHERE id = 5")
    collected()
    page = admin_client.get(url).content.decode()
    assert "Statements and the cache hit rate: over the last 24 h." in page


def test_text_and_html_reports_say_over_which_window(app):
    from perfconsole.analyzer.renderers import render_html, render_text

    result = report()
    line = "Statements and the cache hit rate: lifetime counters: no statistics"
    assert line in render_text(result)
    assert line in render_html(result)


def test_index_usage_with_history_is_the_windows(app):
    # Sequential scans before the history starts, index lookups after.
    app.execute("SET enable_indexscan = off; SET enable_bitmapscan = off")
    for _ in range(5):
        app.execute("SELECT count(*) FROM studies")
    app.execute("RESET enable_indexscan; RESET enable_bitmapscan")
    publish(app)
    collected()
    app.execute("SET enable_seqscan = off")
    for key in range(10):
        app.execute("SELECT id FROM studies WHERE id = %s", [uuid.UUID(int=key)])
    publish(app)
    collected()

    usage = {t.name: t for t in report().targets}["Index usage ratio"]

    assert usage.measured == "lowest 100.0 % (public.studies)", usage
    assert usage.met is True
    assert "over the last 24 h (statistics history)" in usage.detail
