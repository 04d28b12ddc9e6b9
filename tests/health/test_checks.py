"""Each health check finds exactly its problem and stays quiet on a healthy schema."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from perfconsole.health import checks
from perfconsole.health.checks import WRAPAROUND_LIMIT
from perfconsole.health.registry import CheckResult, registered_checks, run_all_checks
from perfconsole.health.thresholds import check_threshold_setting, thresholds
from tests.health.conftest import subjects

# The problem schema is committed once per run; only tests that open second
# connections need a transactional database.
pytestmark = pytest.mark.django_db

EXPECTED = {
    checks.check_missing_indexes: {"health_fixture.scanned"},
    checks.check_unused_indexes: {"health_fixture.unused_payload_idx"},
    checks.check_duplicate_indexes: {"health_fixture.dup_a_idx"},
    checks.check_invalid_indexes: {"health_fixture.invalid_code_idx"},
    checks.check_unindexed_foreign_keys: {"health_fixture.child_parent_id_fkey"},
    checks.check_table_bloat: {"health_fixture.bloated"},
    checks.check_index_bloat: {"health_fixture.bloated_pkey"},
    checks.check_dead_tuples: {"health_fixture.dead"},
    checks.check_vacuum_analyze: {"health_fixture.unmaintained"},
    checks.check_sequences: {"health_fixture.small_seq_id_seq"},
}

FIXES = {
    checks.check_unused_indexes: (
        "DROP INDEX CONCURRENTLY health_fixture.unused_payload_idx;"
    ),
    checks.check_duplicate_indexes: "DROP INDEX CONCURRENTLY health_fixture.dup_a_idx;",
    checks.check_invalid_indexes: (
        "REINDEX INDEX CONCURRENTLY health_fixture.invalid_code_idx;"
    ),
    checks.check_index_bloat: "REINDEX INDEX CONCURRENTLY health_fixture.bloated_pkey;",
    checks.check_unindexed_foreign_keys: (
        "-- health_fixture.child_parent_id_fkey references health_fixture.parent"
        " (on delete cascade)\n"
        "CREATE INDEX CONCURRENTLY ON health_fixture.child (parent_id);"
    ),
    checks.check_dead_tuples: "VACUUM (ANALYZE) health_fixture.dead;",
    checks.check_vacuum_analyze: "VACUUM (ANALYZE) health_fixture.unmaintained;",
    checks.check_sequences: "ALTER SEQUENCE health_fixture.small_seq_id_seq AS bigint;",
}


@pytest.mark.parametrize("check", list(EXPECTED), ids=lambda check: check.key)
def test_each_check_finds_exactly_its_problem(
    problem_schema, fixture_thresholds, check
):
    result = check()

    assert isinstance(result, CheckResult)
    assert subjects(result) == EXPECTED[check]
    assert result.status in ("warning", "critical")
    assert len(result.fix_sql) >= len(result.rows)
    if check in FIXES:
        assert FIXES[check] in result.fix_sql


def test_checks_stay_quiet_on_the_healthy_schema(problem_schema, fixture_thresholds):
    results = run_all_checks()

    assert [r.key for r in results] == [c.key for c in registered_checks()]
    assert all(not r.error for r in results), [r.error for r in results]
    assert {r.key: subjects(r, "health_healthy") for r in results if r.rows} == {
        r.key: set() for r in results if r.rows
    }


def test_default_size_floors_hide_the_small_fixture_objects(problem_schema):
    # PgHero's floors: unused indexes from 10 MB, index bloat from 100 MB.
    assert subjects(checks.check_unused_indexes()) == set()
    assert subjects(checks.check_index_bloat()) == set()
    assert subjects(checks.check_table_bloat()) == set()


def test_duplicate_row_names_the_covering_index(problem_schema, fixture_thresholds):
    (row,) = [
        r
        for r in checks.check_duplicate_indexes().rows
        if r["subject"] == "health_fixture.dup_a_idx"
    ]
    assert row["covered_by"] == "health_fixture.dup_a_b_idx"
    assert "(a, b)" in row["covering_definition"]


def test_unused_indexes_show_the_statistics_reset_time(
    problem_schema, fixture_thresholds
):
    result = checks.check_unused_indexes()
    assert "since statistics" in result.summary


def test_sequence_is_measured_against_its_column_type(problem_schema):
    (row,) = [
        r
        for r in checks.check_sequences().rows
        if r["subject"] == "health_fixture.small_seq_id_seq"
    ]
    assert row["column_type"] == "smallint"
    assert row["max_value"] == 32767
    assert row["used_pct"] == pytest.approx(91.56, abs=0.01)
    assert checks.check_sequences().status == "critical"


def test_bloat_estimates_the_deleted_share(problem_schema, fixture_thresholds):
    (table,) = [
        r
        for r in checks.check_table_bloat().rows
        if r["subject"] == "health_fixture.bloated"
    ]
    (index,) = [
        r
        for r in checks.check_index_bloat().rows
        if r["subject"] == "health_fixture.bloated_pkey"
    ]
    # 90 % of the rows were deleted and vacuumed away in place.
    assert 80 <= table["bloat_pct"] <= 95
    assert 75 <= index["bloat_pct"] <= 95


def test_wraparound_reports_tables_by_ids_left(problem_schema, settings):
    assert checks.check_wraparound().status == "ok"

    # Every table with any transaction age is below this line.
    settings.HEALTH_THRESHOLDS = {"wraparound_warning_left": WRAPAROUND_LIMIT}
    result = checks.check_wraparound()
    assert result.status == "warning"
    lefts = [min(r["xids_left"], r["mxids_left"]) for r in result.rows]
    assert lefts and lefts == sorted(lefts)
    # The oldest tables come first: at least as old as a fixture table.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT age(relfrozenxid) FROM pg_class"
            " WHERE oid = 'health_fixture.dead'::regclass"
        )
        (fixture_age,) = cursor.fetchone()
    assert result.rows[0]["xid_age"] >= fixture_age > 0
    assert result.fix_sql[0].startswith("VACUUM (FREEZE, VERBOSE) ")

    settings.HEALTH_THRESHOLDS = {
        "wraparound_warning_left": WRAPAROUND_LIMIT,
        "wraparound_critical_left": WRAPAROUND_LIMIT,
    }
    assert checks.check_wraparound().status == "critical"


def test_cache_hit_rate_levels(problem_schema, settings):
    result = checks.check_cache_hit_rate()
    assert "Tables" in result.summary

    # No rate is above 100 %: these levels can only warn.
    settings.HEALTH_THRESHOLDS = {
        "cache_hit_rate_warning": 100.01,
        "cache_hit_rate_critical": 0,
    }
    assert checks.check_cache_hit_rate().status == "warning"
    settings.HEALTH_THRESHOLDS = {
        "cache_hit_rate_warning": 100.01,
        "cache_hit_rate_critical": 100.01,
    }
    assert checks.check_cache_hit_rate().status == "critical"


@pytest.mark.django_db(transaction=True)
def test_connections_are_grouped_by_application(session_factory, settings):
    conns = [session_factory() for _ in range(3)]
    for conn in conns:
        conn.execute("SET application_name = 'health-conn-test'")
    result = checks.check_connections()

    (row,) = [r for r in result.rows if r["application"] == "health-conn-test"]
    assert row["connections"] == 3
    assert row["database"] == connection.settings_dict["NAME"]
    assert result.status == "ok"

    settings.HEALTH_THRESHOLDS = {"total_connections": 1}
    assert checks.check_connections().status == "warning"
    settings.HEALTH_THRESHOLDS = {"connections_critical_pct": 0}
    assert checks.check_connections().status == "critical"


@pytest.mark.django_db(transaction=True)
def test_a_lock_held_by_ddl_becomes_an_unavailable_result(
    problem_schema, fixture_thresholds, session_factory
):
    # An uncommitted DROP INDEX holds an ACCESS EXCLUSIVE lock on the index,
    # which the unused-index check needs to read its size.
    ddl = session_factory(autocommit=False)
    ddl.execute("DROP INDEX health_fixture.unused_payload_idx")
    results = {r.key: r for r in run_all_checks()}
    ddl.rollback()

    unused = results["unused_indexes"]
    assert unused.title == "Unused indexes"
    assert "lock" in unused.error
    assert unused.summary.startswith("Statistics unavailable right now")
    assert unused.status == "warning" and unused.rows == []
    assert not results["duplicate_indexes"].error


@pytest.mark.django_db(transaction=True)
def test_checks_work_for_a_pg_monitor_role(
    problem_schema, fixture_thresholds, monitor_role
):
    results = run_all_checks()

    # pg_monitor is enough: no check is refused for lack of a grant.
    errors = [r.error for r in results if r.error]
    assert not [e for e in errors if "ermission denied" in e], errors
    by_key = {r.key: r for r in results}
    assert subjects(by_key["duplicate_indexes"]) == {"health_fixture.dup_a_idx"}
    assert subjects(by_key["invalid_indexes"]) == {"health_fixture.invalid_code_idx"}
    assert subjects(by_key["unused_indexes"]) == {"health_fixture.unused_payload_idx"}


def test_healthcheck_command_prints_json_and_fails_on_warning(
    problem_schema, fixture_thresholds, capsys
):
    call_command("healthcheck", "--json", "--check", "duplicate_indexes")
    payload = json.loads(capsys.readouterr().out)
    (result,) = payload["checks"]
    assert result["key"] == "duplicate_indexes"
    assert "health_fixture.dup_a_idx" in {row["subject"] for row in result["rows"]}

    call_command("healthcheck", "--check", "invalid_indexes")
    out = capsys.readouterr().out
    assert "[warning] Invalid indexes" in out
    assert "REINDEX INDEX CONCURRENTLY health_fixture.invalid_code_idx;" in out

    with pytest.raises(CommandError, match="health: warning"):
        call_command("healthcheck", "--check", "dead_tuples", "--fail-on", "warning")
    call_command("healthcheck", "--check", "dead_tuples", "--fail-on", "critical")


def test_threshold_setting_is_checked(settings):
    settings.HEALTH_THRESHOLDS = {"dead_tuples": 10}
    assert check_threshold_setting() == []
    assert thresholds()["dead_tuples"] == 10
    assert thresholds()["long_running_query_sec"] == 60

    settings.HEALTH_THRESHOLDS = {"dead_tuple": 10, "sequence_used_pct": "90"}
    assert [e.id for e in check_threshold_setting()] == ["health.E002", "health.E003"]
