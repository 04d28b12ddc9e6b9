"""The fleet overview: every enabled target, worst first, one down never the others."""

import html
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from perfconsole.history.collector import console_database
from perfconsole.history.fleet import fleet_rows
from perfconsole.history.models import CounterDelta, Level, MonitoredDatabase, Snapshot

FLEET_URL = reverse("admin:history_monitoreddatabase_fleet")


@pytest.fixture(autouse=True)
def _no_cached_health():
    cache.clear()
    yield
    cache.clear()


def names_in_order(page):
    """Return the targets' names in the order the fleet table lists them."""
    table = page[page.index('id="fleet"') :]
    return [html.unescape(name) for name in re.findall(r'/change/">([^<]*)</a>', table)]


def row_of(page, name):
    """Return the HTML of the fleet table's row of the named target."""
    start = page.index(f">{name}</a>")
    return page[start : page.index("</tr>", start)]


def test_a_dead_target_is_down_and_the_others_render(
    admin_client, make_target, dead_port
):
    console = console_database()
    make_target(name="live")
    make_target(name="dead", port=dead_port)
    response = admin_client.get(FLEET_URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert names_in_order(page)[0] == "dead"
    assert set(names_in_order(page)) == {"dead", "live", console.name}
    dead = row_of(page, "dead")
    assert "down" in dead and "Connection refused" in dead
    assert "not checked: down" in dead
    live = row_of(page, "live")
    assert "pc-status-ok" in live and ">up<" in live
    # Its health checks ran on it: a state, not "not checked".
    assert "not checked" not in live
    # The suite's own session at least is a client connection of the server.
    assert re.search(r'class="num">[1-9]', live), live


def test_rows_sort_down_then_lagging_then_health_then_alerts(
    transactional_db, make_target, dead_port
):
    make_target(name="b up")
    make_target(name="a up")
    make_target(name="lagging", status="lagging", status_reason="replay 5 min behind")
    make_target(name="down", port=dead_port)
    make_target(name="disabled", enabled=False)
    rows = fleet_rows()
    names = [row.database.name for row in rows]
    assert names[:2] == ["down", "lagging"]
    assert "disabled" not in names
    assert rows[1].reason == "replay 5 min behind"
    ups = [row for row in rows if row.status == "up"]
    # The health checks ran on each target that answered.
    assert all(row.health in ("ok", "warning", "critical") for row in ups), [
        (row.database.name, row.health_note) for row in ups
    ]
    assert [row.rank for row in ups] == sorted(row.rank for row in ups)
    # Same status: the worse health comes first, unchecked before ok.
    health_order = {"critical": 0, "warning": 1, None: 2, "ok": 3}
    assert [health_order[row.health] for row in ups] == sorted(
        health_order[row.health] for row in ups
    )


def test_transactions_per_second_and_last_collection(transactional_db, make_target):
    target = make_target(name="busy")
    now = timezone.now().replace(microsecond=0)
    collections = [
        (now - timedelta(minutes=2), 60.0, {"xact_commit": 500, "xact_rollback": 100}),
        (now - timedelta(minutes=1), 60.0, {"xact_commit": 1200}),
        # A collection that did not read pg_stat_database does not count.
        (now, 60.0, None),
    ]
    for taken_at, seconds, counters in collections:
        Snapshot.objects.create(
            database=target,
            taken_at=taken_at,
            interval_seconds=seconds,
            status="ok" if counters else "partial",
            missing=[] if counters else ["database"],
        )
        if counters:
            CounterDelta.objects.create(
                database=target,
                level=Level.RAW,
                period_start=taken_at,
                source="database",
                key="",
                counters=counters,
            )
    row = next(row for row in fleet_rows() if row.database == target)
    assert row.tps == pytest.approx((500 + 100 + 1200) / 120)
    assert row.last_collection == now


def test_open_alerts_are_counted_per_target(transactional_db, make_target):
    from perfconsole.alerts.models import Alert, AlertRule

    rule = AlertRule.objects.create(
        name="fleet rule", metric="dead_tuples", comparison="gt", threshold=1
    )
    unreachable = AlertRule.objects.create(
        name="fleet unreachable",
        metric="database_unreachable",
        comparison="gte",
        threshold=1,
    )
    console = console_database()
    other = make_target(name="other")
    make_target(name="quiet")
    disabled = make_target(name="disabled", enabled=False)
    now = timezone.now()
    for alert_rule, database, subject, state in [
        (rule, console, "a", "firing"),
        (rule, console, "b", "acknowledged"),
        (rule, console, "c", "resolved"),
        (unreachable, other, "other", "firing"),
        # Counted by target, not by subject: a table alert on another target.
        (rule, other, "a", "firing"),
        (unreachable, disabled, "disabled", "firing"),
    ]:
        Alert.objects.create(
            rule=alert_rule,
            database=database,
            subject=subject,
            value=1,
            state=state,
            first_seen=now,
            last_seen=now,
        )
    alerts = {row.database.name: row.alerts for row in fleet_rows()}
    assert alerts == {console.name: 2, "other": 2, "quiet": 0}


def test_no_query_per_target_against_the_console_database(admin_client, make_target):
    def console_queries():
        admin_client.get(FLEET_URL)  # health checks cached
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(FLEET_URL).status_code == 200
        return len(queries)

    console_database()
    make_target(name="first")
    with_one = console_queries()
    for number in range(4):
        make_target(name=f"more {number}")
    assert len(fleet_rows()) == 6
    assert console_queries() == with_one


def test_names_and_reasons_are_escaped(admin_client, make_target, dead_port):
    make_target(name="<script>alert(1)</script>", port=dead_port)
    make_target(name="<b>lag</b>", status="lagging", status_reason="<i>behind</i>")
    page = admin_client.get(FLEET_URL).content.decode()
    for raw in ("<script>alert(1)</script>", "<b>lag</b>", "<i>behind</i>"):
        assert raw not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;i&gt;behind&lt;/i&gt;" in page


def test_the_page_needs_the_view_permission(client, django_user_model, make_target):
    user = django_user_model.objects.create_user(
        username="watcher", password="x", is_staff=True
    )
    client.force_login(user)
    assert client.get(FLEET_URL).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_monitoreddatabase"))
    client.force_login(django_user_model.objects.get(pk=user.pk))
    assert client.get(FLEET_URL).status_code == 200


def test_a_missing_password_variable_is_down_with_the_reason(
    transactional_db, make_target
):
    make_target(name="no password", password_env="PERFCONSOLE_PASSWORD_UNSET_X")
    row = next(row for row in fleet_rows() if row.database.name == "no password")
    assert row.status == MonitoredDatabase.DOWN
    assert "PERFCONSOLE_PASSWORD_UNSET_X" in row.reason


def test_the_admin_index_links_the_overview_for_those_who_may_open_it(
    client, django_user_model
):
    user = django_user_model.objects.create_user(
        username="watcher", password="x", is_staff=True
    )
    client.force_login(user)
    assert b"console-fleet-link" not in client.get(reverse("admin:index")).content
    user.user_permissions.add(Permission.objects.get(codename="view_monitoreddatabase"))
    client.force_login(django_user_model.objects.get(pk=user.pk))
    page = client.get(reverse("admin:index")).content.decode()
    assert f'href="{FLEET_URL}"' in page


def test_a_target_found_down_within_its_interval_is_not_connected_again(
    transactional_db, make_target
):
    # Both answer; only the stored status says down.
    now = timezone.now()
    fresh = make_target(
        name="fresh",
        status="down",
        status_reason="timeout expired",
        status_since=now - timedelta(minutes=10),
        last_checked_at=now - timedelta(seconds=20),
    )
    make_target(
        name="stale",
        status="down",
        status_reason="timeout expired",
        status_since=now - timedelta(hours=2),
        last_checked_at=now - timedelta(minutes=5),
    )
    rows = {row.database.name: row for row in fleet_rows()}
    assert rows["fresh"].status == "down"
    assert rows["fresh"].reason == "timeout expired"
    assert rows["fresh"].since == fresh.status_since
    assert rows["fresh"].connections is None
    # Checked longer ago than its interval (60 s): read again, and up.
    assert rows["stale"].status == "up"
    assert rows["stale"].connections
