"""A real task cluster runs a queued and a scheduled refresh."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from io import StringIO
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule, Success

from perfconsole.maintenance.models import ViewRefresh
from perfconsole.maintenance.services import request_refresh

from .conftest import fetch_all

# The cluster calls its scheduler about 30 s after it starts.
WAIT_SECONDS = 90


def cluster_database_url():
    """Return a DATABASE_URL for the test database this run uses."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    user = quote(db["USER"] or "", safe="")
    return f"postgresql://{user}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def start_manage_py(log, *args, kind="command"):
    """Run `manage.py ARGS` against this run's test database, in its own group."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PERFCONSOLE_TEST_DB", "PERFCONSOLE_PROCESS")
    }
    env.update(
        DATABASE_URL=cluster_database_url(),
        PERFCONSOLE_PROCESS=kind,
        SECRET_KEY=settings.SECRET_KEY,
        DEBUG="0",
        Q_WORKERS="1",
    )
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_cluster(log):
    return start_manage_py(log, "qcluster", kind="qcluster")


def stop_cluster(process):
    """Stop the cluster as a supervisor would; kill its group if it hangs."""
    if process.poll() is None:
        # Only the parent: it stops its workers in order.
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_cluster_runs_the_scheduled_refresh(make_view, tmp_path):
    make_view("mt_cluster", populated=False)
    make_view("mt_pressed")
    pressed, _ = request_refresh("mt_pressed", "user")
    call_command("setupschedules", stdout=StringIO())
    Schedule.objects.exclude(name="refresh-materialized-views").delete()
    Schedule.objects.update(next_run=timezone.now() - timedelta(minutes=1))
    log_path = tmp_path / "qcluster.log"

    with open(log_path, "w") as log:
        process = start_cluster(log)
        try:
            refresh = wait_for_refresh("mt_cluster", process)
            pressed.refresh_from_db()
        finally:
            stop_cluster(process)

    assert refresh is not None, log_path.read_text()[-3000:]
    assert refresh.trigger == "schedule"
    # The refresh queued by "Refresh now" ran in a worker under its own row.
    assert (pressed.status, pressed.trigger) == ("succeeded", "user")
    assert pressed.started_at is not None and pressed.duration_ms is not None
    assert refresh.concurrently is False  # first population
    assert fetch_all("SELECT count(*) FROM mt_cluster") == [(3,)]
    schedule = Schedule.objects.get(name="refresh-materialized-views")
    assert schedule.next_run > timezone.now()  # catch_up off: no replay
    # The cluster stopped in order, after saving the task's result.
    assert process.returncode == 0
    assert Success.objects.filter(
        func="perfconsole.maintenance.tasks.refresh_all_views"
    ).exists()


def wait_for_refresh(view_name, process):
    """Wait, bounded, for a finished refresh of one view; None if none came."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        refresh = ViewRefresh.objects.filter(
            view_name=view_name, status="succeeded"
        ).first()
        if refresh is not None:
            return refresh
        time.sleep(0.5)
    return None
