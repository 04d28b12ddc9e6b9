"""Killed refreshes, a task cluster that is gone, views the console does not own.

The kills are real: `manage.py refreshviews` or `manage.py qcluster` runs in a
subprocess against this run's test database and gets SIGKILL in the middle of
a REFRESH.
"""

import os
import signal
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from perfconsole.alerts.metrics import console_target, refresh_failed
from perfconsole.maintenance.models import ViewRefresh
from perfconsole.maintenance.services import (
    cluster_status,
    list_materialized_views,
    refresh_all_views,
    request_refresh,
    settle_refreshes,
)

from .conftest import execute, fetch_all
from .test_cluster import start_cluster, start_manage_py, stop_cluster

transactional = pytest.mark.django_db(transaction=True)

WAIT_SECONDS = 60


def page_url(name):
    return reverse("admin:maintenance_materializedview_change", args=[name])


def refresh_url(name):
    return reverse("admin:maintenance_materializedview_refresh", args=[name])


def run(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, stderr=out, **options)
    return out.getvalue()


def wait_until(condition, what, timeout=WAIT_SECONDS):
    """Wait, bounded, until condition() returns something true; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def running_row(view_name):
    """Return the view's running row once its REFRESH statement is running."""

    def find():
        row = ViewRefresh.objects.filter(view_name=view_name, status="running").first()
        if row is None or row.backend_pid is None:
            return None
        active = fetch_all(
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND state = 'active'"
            " AND query LIKE %s",
            [row.backend_pid, "%REFRESH%MATERIALIZED VIEW%"],
        )
        return row if active else None

    return wait_until(find, f"a running refresh of {view_name}")


def backend_exists(pid):
    return bool(fetch_all("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]))


def kill_group(process):
    """SIGKILL a subprocess and everything it started, as `kill -9` would."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture
def operator_client(superuser):
    client = Client()
    client.force_login(superuser)
    return client


@pytest.mark.slow
@transactional
def test_a_killed_refreshviews_is_the_refresh_until_its_backend_ends(
    slow_view, operator_client, tmp_path
):
    view = slow_view.view
    slow_view(4)
    with open(tmp_path / "refreshviews.log", "w") as log:
        process = start_manage_py(log, "refreshviews", "--view", view)
        try:
            row = running_row(view)
        finally:
            kill_group(process)

    # The server finishes the statement for the killed client, holding the
    # lock: that backend is this refresh, still running, not a second one.
    assert backend_exists(row.backend_pid)
    assert settle_refreshes() == 0
    page = operator_client.get(page_url(view))
    assert "Running" in page.text and 'http-equiv="refresh"' in page.text
    output = run("refreshviews", view=[view])
    assert "skipped" in output and f"#{row.pk}, backend {row.backend_pid}" in output
    assert ViewRefresh.objects.filter(status="running").count() == 1

    wait_until(lambda: not backend_exists(row.backend_pid), "the backend's end", 30)

    # Read at once, wherever it is read: the page, the alert metric.
    page = operator_client.get(page_url(view))
    row.refresh_from_db()
    assert row.status == "failed" and row.finished_at is not None
    assert f"Worker process gone: backend {row.backend_pid} is gone" in row.error
    assert "Worker process gone" in page.text
    assert 'http-equiv="refresh"' not in page.text
    [observation] = [
        o
        for o in refresh_failed(None, timezone.now(), console_target())
        if o.subject == view
    ]
    assert observation.value == 1.0 and "Worker process gone" in observation.detail
    # The next refresh runs at once.
    slow_view(0)
    assert f"{view}: succeeded" in run("refreshviews", view=[view])


@pytest.mark.slow
@transactional
def test_a_refresh_killed_with_its_backend_fails_and_refresh_now_works_at_once(
    slow_view, operator_client, second_connection, tmp_path
):
    view = slow_view.view
    slow_view(60)
    with open(tmp_path / "refreshviews.log", "w") as log:
        process = start_manage_py(log, "refreshviews", "--view", view)
        try:
            row = running_row(view)
        finally:
            kill_group(process)
    # The server session goes too (a DBA's pg_terminate_backend, a restart).
    dba = second_connection()
    dba.execute("SELECT pg_terminate_backend(%s, 10000)", [row.backend_pid])

    response = operator_client.post(refresh_url(view), follow=True)

    row.refresh_from_db()
    assert row.status == "failed" and "Worker process gone" in row.error
    queued = ViewRefresh.objects.get(status="queued")
    assert queued.view_name == view and OrmQ.objects.count() == 1
    assert f"Refresh of {view} queued." in response.text
    # No task cluster runs in this test, and the page says so.
    assert "No task cluster is alive" in response.text


@pytest.mark.slow
@transactional
def test_a_killed_task_cluster_shows_as_gone_and_its_refresh_as_failed(
    slow_view, operator_client, tmp_path
):
    view = slow_view.view
    assert cluster_status()[0] is False
    assert "No task cluster is alive" in operator_client.get(page_url(view)).text
    log_path = tmp_path / "qcluster.log"
    with open(log_path, "w") as log:
        process = start_cluster(log)
        try:
            wait_until(lambda: cluster_status()[0], "the cluster's heartbeat")
            page = operator_client.get(page_url(view))
            assert "Task cluster alive: 1 cluster(s)" in page.text
            slow_view(4)
            pressed, created = request_refresh(view, "user")
            assert created
            row = running_row(view)
            assert row.pk == pressed.pk  # the worker took over the queued row
        except BaseException:
            stop_cluster(process)
            raise
        kill_group(process)

    wait_until(lambda: not cluster_status()[0], "the heartbeat's end", 10)
    assert "No task cluster is alive" in operator_client.get(page_url(view)).text
    wait_until(lambda: not backend_exists(row.backend_pid), "the backend's end", 30)
    refresh, created = request_refresh(view, "user")
    row.refresh_from_db()
    assert created and row.status == "failed", log_path.read_text()[-3000:]
    assert "Worker process gone" in row.error


@pytest.fixture
def foreign_view(make_view, second_connection):
    """A materialized view owned by another role, made by a superuser."""
    role = f"mt_other_owner_{connection.settings_dict['NAME']}"[:63]
    name = make_view("mt_foreign")
    admin = second_connection()
    admin.execute(f'DROP ROLE IF EXISTS "{role}"')
    admin.execute(f'CREATE ROLE "{role}" NOLOGIN')
    admin.execute(f'ALTER MATERIALIZED VIEW {name} OWNER TO "{role}"')
    yield name
    execute(f"DROP MATERIALIZED VIEW IF EXISTS {name}")
    admin.execute(f'DROP ROLE IF EXISTS "{role}"')


@transactional
def test_a_view_of_another_role_is_listed_read_only(
    foreign_view, make_view, operator_client
):
    make_view("mt_own")

    listing = operator_client.get(
        reverse("admin:maintenance_materializedview_changelist")
    )
    page = operator_client.get(page_url(foreign_view))
    pressed = operator_client.post(refresh_url(foreign_view), follow=True)
    outcome = {
        refresh.view_name: refresh.status for refresh in refresh_all_views("schedule")
    }
    command = run("refreshviews")

    assert "no: owned by the role mt_other_owner_" in listing.text
    assert "listed read-only" in pressed.text
    assert (
        "Refresh now"
        not in page.text.split('id="refresh-status"')[1].split("History")[0]
    )
    assert outcome["mt_own"] == "succeeded" and foreign_view not in outcome
    assert f"{foreign_view}: read-only, owned by the role" in command
    assert not ViewRefresh.objects.filter(view_name=foreign_view).exists()
    assert foreign_view not in {
        o.subject for o in refresh_failed(None, timezone.now(), console_target())
    }
    with pytest.raises(CommandError, match="listed read-only"):
        run("refreshviews", view=[foreign_view])


@pytest.mark.django_db
def test_managed_views_can_be_named_in_the_settings(make_view, settings):
    make_view("mt_named")
    make_view("mt_unnamed")
    settings.MAINTENANCE_MANAGED_VIEWS = ["public.mt_named"]

    views = {view.name: view for view in list_materialized_views()}

    assert views["mt_named"].managed
    assert views["mt_unnamed"].unmanaged_reason == "not in MAINTENANCE_MANAGED_VIEWS"
    assert views["organization_activity_rollup"].managed


@pytest.mark.django_db
def test_pages_of_unknown_views_and_refreshes_are_not_found(admin_client):
    for url in (
        page_url("nope"),
        reverse("admin:maintenance_materializedview_history", args=["nope"]),
        reverse("admin:maintenance_viewrefresh_change", args=[999999]),
    ):
        assert admin_client.get(url).status_code == 404, url
