"""The views page reads refresh history through its index, not a scan."""

from datetime import timedelta

import pytest
from django.utils import timezone

from perfconsole.maintenance.models import ViewRefresh

from .conftest import execute, fetch_all


@pytest.mark.django_db
def test_the_views_page_reads_history_by_index(make_view):
    make_view("mt_planned")
    start = timezone.now() - timedelta(days=30)
    ViewRefresh.objects.bulk_create(
        ViewRefresh(
            view_name=f"other_view_{i % 50}",
            trigger="schedule",
            status="succeeded",
            requested_at=start + timedelta(minutes=i),
            finished_at=start + timedelta(minutes=i),
        )
        for i in range(20_000)
    )
    execute("ANALYZE maintenance_viewrefresh")

    plan = fetch_all(
        "EXPLAIN (FORMAT JSON) SELECT * FROM maintenance_materialized_view"
    )[0][0][0]["Plan"]

    nodes = list(plan_nodes(plan))
    history_scans = {
        node["Node Type"]
        for node in nodes
        if node.get("Relation Name") == "maintenance_viewrefresh"
    }
    indexes = {node.get("Index Name") for node in nodes}
    # The latest outcome, the latest success and the in-progress check.
    assert "Seq Scan" not in history_scans
    assert history_scans <= {"Index Scan", "Bitmap Heap Scan"}
    assert "maintenance_refresh_view_idx" in indexes


def plan_nodes(node):
    """Yield a plan node and every node below it."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)
