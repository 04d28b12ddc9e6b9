"""With statistics history the cache hit check judges the last day, not the
lifetime counters: real cold reads before the first collection, then only
cached reads between collections."""

import pytest
from django.db import connection

from perfconsole.core.db import cache_hits
from perfconsole.health import checks
from perfconsole.history.collector import collect

pytestmark = pytest.mark.django_db(transaction=True)


def publish(app):
    """Make the application connection's pending statistics visible (PG15+)."""
    if app.info.server_version >= 150000:
        app.execute("SELECT pg_stat_force_next_flush()")


def publish_own():
    """Publish the test connection's pending statistics now (PG15+)."""
    if connection.pg_version >= 150000:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")


def collected():
    outcome = collect()
    assert outcome.snapshot is not None, outcome.describe()


def test_a_cold_start_long_ago_is_not_a_low_cache_hit_rate(second_connection, settings):
    # Autovacuum may read a few blocks in the window: the levels leave room.
    settings.HEALTH_THRESHOLDS = {
        "cache_hit_rate_warning": 95,
        "cache_hit_rate_critical": 90,
    }
    app = second_connection()
    app.execute("CREATE TEMPORARY TABLE warm (id int PRIMARY KEY, title text)")
    app.execute("INSERT INTO warm SELECT g, 't' || g FROM generate_series(1, 100) g")
    # Reads of a temporary table larger than temp_buffers miss the cache.
    app.execute(
        "CREATE TEMPORARY TABLE cold AS SELECT g AS id, repeat('x', 200) AS pad"
        " FROM generate_series(1, 60000) g"
    )
    publish(app)
    # The test's own connection publishes what it read in earlier tests now,
    # not after the reset.
    publish_own()
    app.execute("SELECT pg_stat_reset()")
    for _ in range(5):
        app.execute("SELECT count(*) FROM cold")
    publish(app)
    collected()
    for _ in range(1000):
        app.execute("SELECT title FROM warm WHERE id = 5")
    publish(app)
    collected()
    # Lifetime, the cold reads dominate.
    assert cache_hits()["database"].pct < 90

    result = checks.check_cache_hit_rate()

    assert result.status == "ok", result.summary
    assert "over the last 24 h" in result.summary


def test_a_low_rate_in_the_window_is_reported(second_connection, settings):
    app = second_connection()
    app.execute(
        "CREATE TEMPORARY TABLE cold AS SELECT g AS id, repeat('x', 200) AS pad"
        " FROM generate_series(1, 60000) g"
    )
    publish(app)
    collected()
    for _ in range(3):
        app.execute("SELECT count(*) FROM cold")
    publish(app)
    collected()

    result = checks.check_cache_hit_rate()

    assert result.status == "critical", result.summary
    assert "over the last 24 h" in result.summary
    assert result.fix_sql
