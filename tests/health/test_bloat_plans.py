"""The bloat estimates read pg_stats once, and their size floors lose nothing.

Joined to pg_stats, the estimates were planned as a nested loop comparing
every column with every row of the view; they now read it once, in a
subplan run once, for the tables that can reach the size floor.
"""

import json

import pytest
from django.db import connection

from perfconsole.health import checks

pytestmark = pytest.mark.django_db

ESTIMATES = {
    "table_bloat": checks.TABLE_BLOAT_SQL,
    "index_bloat": checks.INDEX_BLOAT_SQL,
}


def plan_of(sql, params):
    """Return the executed plan of a statement as EXPLAIN's JSON tree."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return plan[0]["Plan"]


def statistic_reads(node, subplan=None):
    """Yield (node, enclosing once-run subplan or None) for pg_statistic scans.

    The enclosing subplan is the nearest InitPlan (a CTE's or an uncorrelated
    subquery's) above the scan; a correlated SubPlan or a join re-reading the
    view has none.
    """
    if node.get("Parent Relationship") == "InitPlan":
        subplan = node
    elif node.get("Parent Relationship") == "SubPlan":
        subplan = None
    if node.get("Relation Name") == "pg_statistic":
        yield node, subplan
    for child in node.get("Plans", []):
        yield from statistic_reads(child, subplan)


@pytest.mark.parametrize("estimate", list(ESTIMATES))
def test_the_estimate_reads_pg_stats_once(problem_schema, estimate):
    # Floors of 0: every table and index of the fixture is estimated.
    reads = list(statistic_reads(plan_of(ESTIMATES[estimate], [0, 0, 0])))

    assert reads, "the estimate no longer reads pg_stats"
    for scan, subplan in reads:
        assert subplan is not None, f"pg_statistic read per row: {scan}"
        assert subplan["Actual Loops"] == 1, subplan


@pytest.mark.parametrize(
    ("check", "subject"),
    [
        (checks.check_table_bloat, "health_fixture.bloated"),
        (checks.check_index_bloat, "health_fixture.bloated_pkey"),
    ],
    ids=["table_bloat", "index_bloat"],
)
def test_an_object_wasting_exactly_the_floor_is_reported(
    problem_schema, fixture_thresholds, settings, check, subject
):
    (row,) = [r for r in check().rows if r["subject"] == subject]
    floor = f"{check.key}_min_bytes"

    settings.HEALTH_THRESHOLDS = {**fixture_thresholds, floor: row["bloat_bytes"]}
    assert subject in {r["subject"] for r in check().rows}

    settings.HEALTH_THRESHOLDS = {**fixture_thresholds, floor: row["bloat_bytes"] + 1}
    assert subject not in {r["subject"] for r in check().rows}
