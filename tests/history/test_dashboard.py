"""The dashboard and a query's charts, from real collections."""

import json
import re

import pytest
from django.urls import reverse

from perfconsole.history.dashboard import with_gaps
from perfconsole.history.models import Snapshot, StatementText

DASHBOARD = "admin:history_dashboard"


def chart_json(response, element_id):
    """Return the JSON a page rendered with json_script under element_id."""
    html = response.content.decode()
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>',
        html,
        re.DOTALL,
    )
    assert match, f"no {element_id} in the page"
    return json.loads(match.group(1))


def series(data, chart_id, label=None):
    """Return the values of one series of one chart."""
    chart = next(c for c in data["charts"] if c["id"] == chart_id)
    return next(
        s["values"] for s in chart["series"] if label is None or s["label"] == label
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, message",
    [
        (
            "window=custom&start=2026-01-02 10:00&end=2026-01-01 10:00",
            "To must be after From",
        ),
        ("window=custom&start=2026-13-45 10:00&end=2026-01-01", "valid date"),
        ("window=custom&start=2016-01-01&end=2026-01-01", "at most two years"),
        ("window=custom&start=2026-01-01", "needs both From and To"),
        ("window=10y", "Select a valid choice"),
    ],
)
def test_a_bad_window_is_a_400_with_the_reason(admin_client, query, message):
    response = admin_client.get(reverse(DASHBOARD) + "?" + query)

    assert response.status_code == 400
    assert message in response.content.decode()


def test_the_dashboard_charts_real_collections_with_a_gap(
    history_db, probe, collected, second_connection, admin_client
):
    _table, marker = probe
    queryid = marker(1)
    collected()
    marker(5)
    collected()
    blocker = second_connection(autocommit=False)
    blocker.execute(
        "LOCK TABLE history_baseline, history_statementbaseline"
        " IN ACCESS EXCLUSIVE MODE"
    )
    marker(4)
    blocked = collected().snapshot
    blocker.rollback()
    assert "database" in blocked.missing and "statement" in blocked.missing
    marker(2)
    # A statement of the product (no console tag), from a session of its own.
    product = second_connection()
    for value in range(20):
        product.execute("SELECT pg_sleep(0.005), %s::int AS dashboard_probe", [value])
    # A function whose inner statement is tracked too (nested, toplevel
    # false): its time is already in the call's.
    product.execute("SET pg_stat_statements.track = 'all'")
    product.execute(
        "CREATE FUNCTION pg_temp.dashboard_nested() RETURNS void LANGUAGE plpgsql"
        " AS $$ BEGIN PERFORM pg_sleep(0.02) AS dashboard_inner; END $$"
    )
    for _ in range(3):
        product.execute("SELECT pg_temp.dashboard_nested() AS dashboard_outer")
    product.execute("SELECT pg_stat_force_next_flush()")
    collected()

    response = admin_client.get(reverse(DASHBOARD))

    assert response.status_code == 200
    data = chart_json(response, "dashboard-data")
    taken = [s.taken_at.timestamp() for s in Snapshot.objects.order_by("taken_at")]
    assert data["times"] == pytest.approx(taken)
    commits = series(data, "tps", "commits")
    # The first collection has no interval yet; the locked one is a gap.
    assert commits[0] is None and commits[2] is None
    assert commits[1] > 0 and commits[3] > 0
    calls = series(data, "calls")
    assert calls[2] is None and calls[1] > 0 and calls[3] > 0
    hit_rate = series(data, "cache")
    assert all(v is None or 0 <= v <= 100 for v in hit_rate)
    assert hit_rate[2] is None
    assert "Health:" in response.content.decode()
    # The product's statement leads the top five; the console's own are left
    # out (the probe's statements carry the console's tag).
    top = response.context["top_queries"]
    assert "dashboard_probe" in top[0]["query"] and top[0]["calls"] == 20
    assert top[0]["total_time"] >= 100
    assert not any("/* perfconsole */" in row["query"] for row in top)
    inner = StatementText.objects.get(query__contains="dashboard_inner", toplevel=False)
    assert any("dashboard_outer" in row["query"] for row in top)
    assert inner.id not in [row["statement_id"] for row in top]
    assert top[0]["url"] in response.content.decode()
    # A window chosen on the dashboard goes with the link to the query's charts.
    six_hours = admin_client.get(reverse(DASHBOARD), {"window": "6h"})
    assert six_hours.context["top_queries"][0]["url"].endswith("/?window=6h")

    statement = StatementText.objects.get(queryid=queryid)
    page = reverse(
        "admin:monitoring_querystat_change",
        args=[f"{queryid}.{statement.userid}.{int(statement.toplevel)}"],
    )
    response = admin_client.get(page + "?window=6h")
    assert response.status_code == 200
    data = chart_json(response, "query-chart-data")
    # Rows of the probe's count(*): one per call; the locked interval's four
    # calls come with the next collection.
    assert series(data, "q_rows")[1:] == [5.0, None, 6.0]
    assert series(data, "q_calls")[2] is None


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["window", "start", "end"])
@pytest.mark.parametrize(
    "value", ["", "a" * 10_000, "-1", "99999999999999999999", "\x00", "žluť ☃"]
)
def test_hostile_window_values_are_never_a_500(admin_client, field, value):
    params = {"window": "custom", "start": "2026-01-01", "end": "2026-01-02"}
    params[field] = value

    response = admin_client.get(reverse(DASHBOARD), params)

    assert response.status_code in (200, 400)


def test_collections_that_stopped_a_while_leave_a_gap(settings):
    settings.STATS_INTERVAL_SECONDS = 60

    # Collections at 0, 60, then nothing until 3600: a gap point after 60.
    assert with_gaps([0.0, 60.0, 3600.0, 3660.0]) == [0.0, 60.0, 120.0, 3600.0, 3660.0]


@pytest.mark.django_db
def test_an_empty_history_renders(admin_client):
    response = admin_client.get(reverse(DASHBOARD) + "?window=7d")

    assert response.status_code == 200
    assert chart_json(response, "dashboard-data")["times"] == []


@pytest.mark.django_db
def test_without_the_permission_no_dashboard_and_no_link(client, staff_user):
    client.force_login(staff_user)

    assert client.get(reverse(DASHBOARD)).status_code == 403
    assert reverse(DASHBOARD) not in client.get(reverse("admin:index")).content.decode()


@pytest.mark.django_db
def test_the_index_leads_to_the_dashboard(admin_client):
    response = admin_client.get(reverse("admin:index"))

    assert reverse(DASHBOARD) in response.content.decode()
