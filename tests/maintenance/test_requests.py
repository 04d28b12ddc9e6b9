"""Queuing refreshes: one at a time per view, and tasks that are safe twice."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django_q.models import OrmQ

from perfconsole.maintenance.models import ViewRefresh
from perfconsole.maintenance.services import (
    cluster_status,
    request_refresh,
    settle_refreshes,
)
from perfconsole.maintenance.tasks import refresh_all_views, refresh_view_task

from .conftest import execute


@pytest.mark.django_db(transaction=True)
def test_two_presses_at_the_same_moment_queue_one_refresh(make_view):
    make_view("mt_race")
    barrier = threading.Barrier(2)
    created = []

    def press():
        try:
            barrier.wait(timeout=10)
            created.append(request_refresh("mt_race", "user")[1])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=press) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(created) == [False, True]
    assert ViewRefresh.objects.count() == 1
    assert OrmQ.objects.count() == 1


@pytest.mark.django_db
def test_a_refresh_queued_with_no_cluster_alive_fails_after_the_wait(
    make_view, settings
):
    # No task cluster runs during this test: django-q2 records none alive.
    assert cluster_status()[0] is False
    make_view("mt_stuck")
    stuck, _ = request_refresh("mt_stuck", "user")
    again, created = request_refresh("mt_stuck", "user")
    assert (again.pk, created) == (stuck.pk, False)  # within the wait
    wait = settings.MAINTENANCE_QUEUE_WAIT_SECONDS
    ViewRefresh.objects.filter(pk=stuck.pk).update(
        requested_at=stuck.requested_at - timedelta(seconds=wait + 1)
    )

    fresh, created = request_refresh("mt_stuck", "user")

    stuck.refresh_from_db()
    assert created and fresh.pk != stuck.pk
    assert stuck.status == "failed"
    assert "no task cluster was alive to run it within 60 s" in stuck.error


@pytest.mark.django_db
def test_a_refresh_queued_past_timeout_and_retry_is_abandoned(make_view, settings):
    make_view("mt_lost")
    lost, _ = request_refresh("mt_lost", "user")
    limit = settings.Q_CLUSTER["timeout"] + settings.Q_CLUSTER["retry"]
    ViewRefresh.objects.filter(pk=lost.pk).update(
        requested_at=lost.requested_at - timedelta(seconds=limit + 1)
    )

    # A cluster alive that never ran it: its task was lost.
    assert settle_refreshes("mt_lost", cluster_alive=True) == 1

    lost.refresh_from_db()
    assert lost.status == "failed"
    assert "Abandoned" in lost.error and f"within {limit} s" in lost.error


@pytest.mark.django_db(transaction=True)
def test_a_task_delivered_twice_refreshes_under_a_new_row(make_view):
    make_view("mt_twice")
    queued, _ = request_refresh("mt_twice", "user")

    first = refresh_view_task("mt_twice", "user", refresh_id=queued.pk)
    second = refresh_view_task("mt_twice", "user", refresh_id=queued.pk)

    assert (first, second) == ("succeeded", "succeeded")
    rows = ViewRefresh.objects.order_by("id")
    assert [row.status for row in rows] == ["succeeded", "succeeded"]
    assert rows[0].pk == queued.pk and rows[0].task_id == queued.task_id


@pytest.mark.django_db(transaction=True)
def test_refresh_all_views_reports_each_view(make_view):
    make_view("mt_all_ok")
    make_view("mt_all_bad", "SELECT id, 100 / v AS v FROM mt_source")
    execute("UPDATE mt_source SET v = 0 WHERE id = 1")

    outcome = refresh_all_views()

    assert outcome["mt_all_ok"] == "succeeded"
    assert outcome["mt_all_bad"] == "failed"
    assert set(ViewRefresh.objects.values_list("trigger", flat=True).distinct()) == {
        "schedule"
    }
