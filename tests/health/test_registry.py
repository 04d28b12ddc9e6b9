"""The health-check registry: complete metadata, declared fields, one order."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from perfconsole.health import activity
from perfconsole.health.checks import WRAPAROUND_LIMIT
from perfconsole.health.registry import (
    Check,
    Outcome,
    get_check,
    register,
    registered_checks,
    run_all_checks,
)
from tests.health.conftest import FIXTURE_THRESHOLDS, flush_stats, wait_for

# The health page, the healthcheck command and the analyzer list checks in
# this order.
KEYS = [
    "cache_hit_rate",
    "missing_indexes",
    "unused_indexes",
    "duplicate_indexes",
    "unindexed_foreign_keys",
    "invalid_indexes",
    "table_bloat",
    "index_bloat",
    "dead_tuples",
    "vacuum_analyze",
    "wraparound",
    "sequences",
    "connections",
    "idle_in_transaction",
    "long_running_queries",
    "blocked_sessions",
]


def _check(**overrides):
    metadata = {
        "key": "test_only",
        "title": "Test only",
        "impact": "None.",
        "recommendation": "None.",
        "fields": ("subject", "bloat_bytes"),
        "function": lambda: Outcome("ok", "Fine."),
    }
    return Check(**{**metadata, **overrides})


def test_every_check_is_registered_once_in_page_order():
    assert [check.key for check in registered_checks()] == KEYS


@pytest.mark.parametrize("check", registered_checks(), ids=lambda check: check.key)
def test_every_check_has_complete_metadata(check):
    for text in (check.key, check.title, check.impact, check.recommendation):
        assert isinstance(text, str) and text.strip()
    assert check.fields and len(set(check.fields)) == len(check.fields)
    # The analyzer weighs a finding by a field the check declares.
    assert check.weight is None or check.weight in check.fields
    assert get_check(check.key) is check


def test_a_weight_outside_the_declared_fields_is_refused():
    # The old analyzer weighed `wasted_bytes`, which no check emits.
    with pytest.raises(ImproperlyConfigured, match="'wasted_bytes'"):
        register(_check(weight="wasted_bytes"))
    with pytest.raises(ImproperlyConfigured, match="no impact"):
        register(_check(impact=" "))
    with pytest.raises(ImproperlyConfigured, match="registered twice"):
        register(_check(key="dead_tuples"))
    assert "test_only" not in {check.key for check in registered_checks()}


@pytest.fixture
def every_problem(problem_schema, session_factory, background, settings):
    """Make every check report rows: fixture objects, sessions and thresholds."""
    settings.HEALTH_THRESHOLDS = {
        **FIXTURE_THRESHOLDS,
        # No rate can reach 100.01 %; every table id ages below the limit.
        "cache_hit_rate_warning": 100.01,
        "wraparound_warning_left": WRAPAROUND_LIMIT,
        "idle_in_transaction_sec": 0,
        "long_running_query_sec": 0.2,
        "dead_tuples": 100,
    }
    # A temporary table larger than its session's local buffers is read back
    # from its file: the cache-hit check lists it among the tables that read.
    reader = session_factory()
    reader.execute("SET temp_buffers = '800kB'")
    reader.execute(
        "CREATE TEMPORARY TABLE health_reads AS"
        " SELECT g AS id, repeat('x', 200) AS filler"
        " FROM generate_series(1, 10000) AS g"
    )
    reader.execute("SELECT count(*) FROM health_reads")
    # Dead rows of its own: earlier tests may have vacuumed or pruned the
    # fixture's (on-access pruning lowers n_dead_tup too).
    reader.execute("UPDATE health_fixture.dead SET v = v")
    flush_stats(reader)
    holder = session_factory(autocommit=False)
    holder.execute("UPDATE health_fixture.dup SET b = b + 1 WHERE id = 1")
    background("UPDATE health_fixture.dup SET b = b + 2 WHERE id = 1")
    sleeper = background("SELECT pg_sleep(30) /* health-test sleeper */")
    wait_for(lambda: activity.blocking_pairs())
    wait_for(lambda: sleeper.pid in {r["pid"] for r in activity.long_running(0.2)})
    yield
    holder.rollback()


@pytest.mark.django_db(transaction=True)
def test_rows_carry_exactly_the_declared_fields(every_problem):
    results = {result.key: result for result in run_all_checks()}

    for check in registered_checks():
        result = results[check.key]
        assert not result.error, result.error
        assert result.rows, f"{check.key} reported no rows"
        for row in result.rows:
            assert set(row) == set(check.fields), check.key
