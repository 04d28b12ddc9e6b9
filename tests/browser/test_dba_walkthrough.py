"""What a DBA does in the console, in a real Chromium against a live server.

Every page visited is also checked for Content Security Policy violations
(Browser.open and Browser.click) and saved under var/screenshots/.
"""

import csv
import time

import psycopg
import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse
from selenium.webdriver.support.ui import Select

from perfconsole.alerts.evaluation import evaluate_alerts
from perfconsole.alerts.models import Alert, AlertState
from tests.alerts.conftest import PROBE_SCHEMA, probe, rules  # noqa: F401
from tests.health.conftest import background, session_factory  # noqa: F401
from tests.maintenance.conftest import make_view, source_table  # noqa: F401
from tests.maintenance.test_cluster import start_cluster, stop_cluster
from tests.monitoring.conftest import scratch  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dba(browser, superuser):
    browser.sign_in("root", "root-password")
    return browser


def column(browser, label):
    """Return the cells of one column of the page's table, by header label."""
    headers = [th.text.strip() for th in browser.find_all("#content thead th")]
    index = next(i for i, text in enumerate(headers) if text.startswith(label))
    return [
        row.find_elements("css selector", "td")[index].text
        for row in browser.find_all("#content tbody tr")
    ]


def wait_until_active(pid, timeout=10):
    """Wait until a background session's statement is running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT state = 'active' FROM pg_stat_activity WHERE pid = %s", [pid]
            )
            if cursor.fetchone() == (True,):
                return
        time.sleep(0.1)
    raise AssertionError(f"pid {pid} never became active")


def number(text):
    return float(text.replace(",", ""))


def test_the_index_shows_the_database_overview(dba):
    # Production cookie settings: Chromium keeps a Secure session cookie
    # over http://127.0.0.1, which it treats as a secure origin.
    assert dba.driver.get_cookie("sessionid")["secure"] is True
    overview = dba.find("#console-overview")

    assert "PostgreSQL" in overview.text and "Database size" in overview.text
    assert [a.text for a in overview.find_elements("css selector", "a")] == [
        "alerts",
        "health checks",
        "queries",
    ]
    dba.screenshot("index")


def test_query_statistics_sorted_filtered_and_exported(dba):
    dba.open(reverse("admin:monitoring_querystat_changelist"))
    assert "Query statistics" in dba.text

    # Twice on the header: one direction, then the other.
    dba.click(dba.find("#content thead th a[href*='calls']"))
    first = [number(cell) for cell in column(dba, "CALLS")]
    dba.click(dba.find("#content thead th a[href*='calls']"))
    second = [number(cell) for cell in column(dba, "CALLS")]
    # Each load reads fresh statistics: each page is sorted, one either way.
    up, down = (first, second) if first[0] <= second[0] else (second, first)
    assert up == sorted(up) and down == sorted(down, reverse=True)
    assert down[0] > up[0]

    dba.find("input[name=min_calls]").send_keys("2")
    dba.click(dba.find(".pc-filters input[type=submit]"))
    filtered = [number(cell) for cell in column(dba, "CALLS")]
    assert filtered and min(filtered) >= 2
    dba.screenshot("query-statistics-filtered")

    dba.link("Export CSV").click()
    with open(dba.wait_for_download(".csv"), newline="") as export:
        header, *rows = list(csv.reader(export))
    calls = [name.lower() for name in header].index("calls")
    # The export keeps raw numbers, filtered like the page.
    assert rows and all(int(row[calls]) >= 2 for row in rows)


def test_a_query_page_with_its_plan(dba, scratch):  # noqa: F811
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.walked_items (id int PRIMARY KEY, name text)")
    conn.execute(
        f"INSERT INTO {schema}.walked_items SELECT g, 'n'"
        " FROM generate_series(1, 5000) g"
    )
    conn.execute(f"ANALYZE {schema}.walked_items")
    conn.execute(f"SELECT name FROM {schema}.walked_items WHERE id = 42")

    dba.open(reverse("admin:monitoring_querystat_changelist"))
    dba.find("input[name=q]").send_keys(f"{schema}.walked_items WHERE")
    dba.click(dba.find(".pc-filters input[type=submit]"))
    dba.click(
        dba.driver.find_element("partial link text", f"{schema}.walked_items WHERE")
    )
    assert f"SELECT name FROM {schema}.walked_items WHERE id = $1" in dba.text

    dba.click(dba.driver.find_element("xpath", "//button[starts-with(., 'Explain')]"))
    tree = dba.find("#plan-tree")
    assert "Index Scan using walked_items_pkey on walked_items" in tree.text
    assert "costliest node" in tree.text
    # The text plan is one click away.
    dba.find("#plan-text summary").click()
    assert (
        "Index Scan using walked_items_pkey on walked_items"
        in dba.find("#plan-text pre").text
    )
    dba.screenshot("query-plan")


def test_cancel_a_running_query(dba, background):  # noqa: F811
    sleeper = background("SELECT pg_sleep(30) /* browser sleeper */")
    wait_until_active(sleeper.pid)

    dba.open(reverse("admin:health_activity_changelist") + "?refresh=0")
    row = dba.driver.find_element(
        "xpath", f"//tr[.//a[contains(@href, '?pid={sleeper.pid}&action=cancel')]]"
    )
    assert "browser sleeper" in row.text
    dba.click(row.find_element("link text", "cancel"))

    # A confirmation first, showing the session and its query.
    assert f"Cancel the query of pid {sleeper.pid}?" in dba.text
    assert "browser sleeper" in dba.find("pre.pc-sql").text
    assert sleeper.thread.is_alive()
    dba.screenshot("activity-confirm-cancel")
    dba.click(dba.find("input[type=submit][value='Yes, cancel']"))

    sleeper.thread.join(timeout=10)
    assert isinstance(sleeper.error, psycopg.errors.QueryCanceled)
    assert f"Cancelled the query of pid {sleeper.pid}." in dba.text
    dba.screenshot("activity-after-cancel")


def test_live_activity_reloads_itself_and_pauses(dba, background):  # noqa: F811
    dba.open(reverse("admin:health_activity_changelist") + "?refresh=5")
    sleeper = background("SELECT pg_sleep(30) /* arrived later */")
    wait_until_active(sleeper.pid)

    # The static script reloads the sessions in place, CSP-clean.
    dba.wait_for_text("arrived later", timeout=20)
    assert "last at" in dba.find("#activity-refresh-status").text
    dba.find("#activity-refresh-toggle").click()
    assert dba.find("#activity-refresh-status").text == "Paused."
    dba.assert_no_csp_violation()
    dba.screenshot("activity-live")


def test_health_checks(dba):
    dba.open(reverse("admin:health_healthcheck_changelist"))

    assert "Health checks" in dba.text
    dba.screenshot("health-checks")


def test_refresh_now_until_it_succeeded(dba, make_view, tmp_path):  # noqa: F811
    make_view("browser_view")
    with open(tmp_path / "qcluster.log", "w") as log:
        cluster = start_cluster(log)
        try:
            dba.open(
                reverse(
                    "admin:maintenance_materializedview_change", args=["browser_view"]
                )
            )
            dba.click(dba.find("input[type=submit][value='Refresh now']"))
            # The page reloads itself while the refresh is queued or running.
            dba.wait_for_text("done in", timeout=60)
        finally:
            stop_cluster(cluster)
    assert "Succeeded" in dba.text
    dba.screenshot("materialized-view-refreshed")


def test_an_alert_acknowledged(dba, rules, probe, second_connection):  # noqa: F811
    # A real condition: a unique index left invalid by a failed CONCURRENTLY.
    dupes = f"{PROBE_SCHEMA}.dupes"
    conn = second_connection()
    conn.execute(f"CREATE TABLE {dupes} (v int)")
    conn.execute(f"INSERT INTO {dupes} VALUES (1), (1)")
    with pytest.raises(Exception, match="could not create unique index"):
        conn.execute(f"CREATE UNIQUE INDEX CONCURRENTLY dupes_v_key ON {dupes} (v)")
    evaluate_alerts()
    alert = Alert.objects.get(subject=f"{PROBE_SCHEMA}.dupes_v_key")

    dba.open(reverse("admin:alerts_alert_changelist"))
    dba.find(f"input[name=_selected_action][value='{alert.pk}']").click()
    Select(dba.find("select[name=action]")).select_by_value("acknowledge_alerts")
    dba.click(dba.find("button[name=index]"))

    assert "1 alert(s) acknowledged." in dba.text
    alert.refresh_from_db()
    assert alert.state == AlertState.ACKNOWLEDGED
    dba.screenshot("alert-acknowledged")


def test_a_user_without_permissions_sees_what_they_may_open(browser, staff_user):
    staff_user.user_permissions.add(Permission.objects.get(codename="view_querystat"))
    browser.sign_in("staff", "staff-password")

    overview = browser.find("#console-overview")
    links = [a.text for a in overview.find_elements("css selector", "a")]
    assert links == ["queries"]
    browser.screenshot("index-with-one-permission")

    browser.open(reverse("admin:alerts_alert_changelist"))
    assert "Permission needed" in browser.text
    assert "(alerts.view_alert)" in browser.find("#permission-reason").text
    # The admin's look: its header and breadcrumbs, the user's own links.
    assert browser.find("#site-name").text == "perfconsole"
    assert "LOG OUT" in browser.find("#user-tools").text.upper()
    browser.screenshot("forbidden")
