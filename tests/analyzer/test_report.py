"""The analyzer on real problems, and on a healthy schema."""

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import override_settings

from perfconsole.analyzer.findings import CRITICAL, INFO, WARNING
from perfconsole.analyzer.report import Options, build_report
from perfconsole.core.db import PREPARED_PLAN

from .conftest import (
    LOW_THRESHOLDS,
    SCHEMA,
    create_problems,
    drop_fixture,
    flush_statistics,
    install_statements,
)

transactional = pytest.mark.django_db(transaction=True)

# Suggest indexes on tables as small as the fixture's; every statement of the
# problem fixture counts as slow.
SENSITIVE = {"min_table_rows": 1000}
EVERY_QUERY = {"slow_query_ms": 0, "slow_query_calls": 1, **SENSITIVE}


def _findings(report, check, subject):
    return [f for f in report.findings if f.check == check and f.subject == subject]


def _fixture_indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s"
            " ORDER BY indexname",
            [SCHEMA],
        )
        return cursor.fetchall()


def _prepared_statements():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        return cursor.fetchone()[0]


@pytest.fixture(scope="module")
def problems(django_db_setup, django_db_blocker):
    """Analyze the problem fixture once with trial indexes, then once without.

    Building the fixture is the slow part, so the tests below share it.
    """
    with (
        django_db_blocker.unblock(),
        override_settings(HEALTH_THRESHOLDS=LOW_THRESHOLDS),
    ):
        install_statements()
        create_problems()
        try:
            indexes_before = _fixture_indexes()
            tried = build_report(
                Options.from_settings(trial_indexes=True, **EVERY_QUERY)
            )
            indexes_after = _fixture_indexes()
            prepared = _prepared_statements()
            untried = build_report(
                Options.from_settings(trial_indexes=False, **EVERY_QUERY)
            )
        finally:
            drop_fixture()
    return SimpleNamespace(
        tried=tried,
        untried=untried,
        indexes_before=indexes_before,
        indexes_after=indexes_after,
        prepared=prepared,
    )


def test_it_suggests_the_missing_index_checked_by_a_trial_index(problems):
    report = problems.tried
    (suggestion,) = _findings(report, "index_suggestion", f"{SCHEMA}.orders")
    assert suggestion.severity == WARNING
    assert suggestion.fix_sql == (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx"
        f" ON {SCHEMA}.orders (customer_id);"
    )
    evidence = suggestion.evidence
    assert evidence["columns"] == ["customer_id"]
    assert evidence["checked_with"] == "trial index (built and rolled back)"
    assert evidence["cost_after"] <= evidence["cost_before"] / 2
    # The slow query itself points at the same fix.
    (slow,) = [
        f
        for f in report.findings
        if f.check == "slow_query" and f.evidence["query"].startswith("SELECT id, note")
    ]
    assert slow.fix_sql == suggestion.fix_sql
    assert slow.evidence["calls"] == 30
    assert slow.evidence["index_suggestion"] == "orders_customer_id_idx"


def test_it_suggests_the_join_key_of_a_joined_table(problems):
    (join,) = [
        f
        for f in problems.tried.findings
        if f.check == "slow_query" and f.evidence["query"].startswith("SELECT c.name")
    ]
    # Looking orders up by the join key halves the query's cost; an index on
    # the small customers table alone does not, so it is not suggested.
    assert join.evidence["index_suggestion"] == "orders_customer_id_idx"
    assert join.fix_sql == (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx"
        f" ON {SCHEMA}.orders (customer_id);"
    )
    assert not _findings(problems.tried, "index_suggestion", f"{SCHEMA}.customers")


def test_it_leaves_no_trial_index_behind(problems):
    assert problems.indexes_after == problems.indexes_before
    assert len(problems.indexes_before) == 5
    assert problems.prepared == 0
    # The analyzer's own EXPLAINs and trial builds stay out of slow queries.
    queries = [
        f.evidence["query"]
        for f in problems.untried.findings
        if f.check == "slow_query"
    ]
    assert queries
    own = ("GENERIC_PLAN", PREPARED_PLAN, "orders_customer_id_idx")
    assert not [q for q in queries if any(mark in q for mark in own)]


def test_it_reports_unused_duplicate_and_scanned_table(problems):
    report = problems.tried
    (unused,) = _findings(report, "unused_indexes", f"{SCHEMA}.orders_note_idx")
    assert unused.severity == WARNING
    assert unused.evidence["idx_scan"] == 0
    assert unused.fix_sql == f"DROP INDEX CONCURRENTLY {SCHEMA}.orders_note_idx;"
    (duplicate,) = _findings(report, "duplicate_indexes", f"{SCHEMA}.orders_status_idx")
    assert duplicate.evidence["covered_by"] == f"{SCHEMA}.orders_status_created_idx"
    assert duplicate.fix_sql == f"DROP INDEX CONCURRENTLY {SCHEMA}.orders_status_idx;"
    # The longer index is the one kept.
    assert not _findings(
        report, "duplicate_indexes", f"{SCHEMA}.orders_status_created_idx"
    )
    (missing,) = _findings(report, "missing_indexes", f"{SCHEMA}.orders")
    assert missing.evidence["seq_scan"] >= 30
    assert missing.evidence["idx_scan"] == 0
    # The health check's placeholder gives way to the checked suggestion.
    assert missing.fix_sql == (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx"
        f" ON {SCHEMA}.orders (customer_id);"
    )


def test_it_marks_suggestions_unchecked_without_trial_indexes(problems):
    report = problems.untried
    (suggestion,) = _findings(report, "index_suggestion", f"{SCHEMA}.orders")
    assert suggestion.severity == INFO
    assert suggestion.evidence["checked_with"] == "not checked"
    assert suggestion.evidence["cost_before"] > 0
    assert any("--trial-indexes" in note for note in report.notes)


def test_it_orders_findings_by_severity(problems):
    ranks = [
        {CRITICAL: 0, WARNING: 1, INFO: 2}[f.severity] for f in problems.tried.findings
    ]
    assert ranks == sorted(ranks)
    assert WARNING in {f.severity for f in problems.tried.findings}


@transactional
def test_it_reports_nothing_alarming_on_a_healthy_schema(healthy_fixture):
    # Slow queries keep PgHero's bar (20 ms mean over 100 calls), which the
    # fixture's one-off setup statements do not reach.
    report = build_report(Options.from_settings(trial_indexes=True, **SENSITIVE))
    alarming = [
        f
        for f in report.findings
        if f.severity in (CRITICAL, WARNING)
        and (SCHEMA in f.subject or SCHEMA in str(f.evidence))
    ]
    assert alarming == []
    assert not [f for f in report.findings if f.check == "index_suggestion"]


@transactional
def test_it_reports_the_index_efficiency_targets(healthy_fixture):
    report = build_report(Options.from_settings(**SENSITIVE))
    targets = {target.name: target for target in report.targets}
    cache = targets["Cache hit rate"]
    assert cache.met is not None and cache.measured.endswith("%")
    assert targets["Sequential scan reduction"].status == "not measured"


@transactional
def test_it_measures_index_usage_on_collaboration_tables(statements):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {SCHEMA}")
        cursor.execute(
            f"CREATE TABLE {SCHEMA}.organization_members AS"
            " SELECT g AS user_id FROM generate_series(1, 5000) AS g"
        )
        cursor.execute(
            f"CREATE INDEX members_user_idx ON {SCHEMA}.organization_members (user_id)"
        )
        cursor.execute(f"VACUUM ANALYZE {SCHEMA}.organization_members")
        for user in range(1, 40):
            cursor.execute(
                f"SELECT * FROM {SCHEMA}.organization_members WHERE user_id = %s",
                [user],
            )
    flush_statistics()
    try:
        report = build_report(Options.from_settings(trial_indexes=False))
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    targets = {target.name: target for target in report.targets}
    usage = targets["Index usage ratio"]
    # 39 index scans against the one sequential scan of the index build.
    assert f"{SCHEMA}.organization_members 97.5 %" in usage.detail


@transactional
def test_it_suggests_nothing_an_existing_index_covers(healthy_fixture):
    report = build_report(
        Options.from_settings(
            slow_query_ms=0, slow_query_calls=50, trial_indexes=True, **SENSITIVE
        )
    )
    (lookup,) = [
        f
        for f in report.findings
        if f.check == "slow_query" and f.evidence["query"].startswith("SELECT id, note")
    ]
    assert lookup.evidence["calls"] == 60
    assert lookup.fix_sql == ""
    assert lookup.evidence["index_suggestion"] == (
        "none: already covered by index orders_customer_id_idx"
    )
    assert not [f for f in report.findings if f.check == "index_suggestion"]
