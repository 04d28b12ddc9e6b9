"""Refreshing materialized views on a real PostgreSQL."""

from datetime import timedelta

import psycopg
import pytest
from django.db.models import F

from perfconsole.collaboration.models import ROLLUP_NAME
from perfconsole.maintenance.models import ViewRefresh
from perfconsole.maintenance.services import (
    list_materialized_views,
    prune_history,
    refresh_view,
    settle_refreshes,
)

from .conftest import execute, fetch_all

pytestmark = pytest.mark.django_db(transaction=True)


def read_values(conn, view):
    return [row[0] for row in conn.execute(f"SELECT v FROM {view} ORDER BY id")]


def test_it_populates_an_unpopulated_view_with_a_plain_refresh(make_view):
    make_view("mt_empty", populated=False)

    first = refresh_view("mt_empty", "command")
    second = refresh_view("mt_empty", "command")

    assert first.status == "succeeded"
    assert first.concurrently is False
    assert fetch_all("SELECT count(*) FROM mt_empty") == [(3,)]
    # Once populated, the unique index allows a concurrent refresh.
    assert second.status == "succeeded"
    assert second.concurrently is True


def test_it_refreshes_a_view_without_unique_index_plainly(make_view):
    make_view("mt_no_index", unique_index=False)
    execute("UPDATE mt_source SET v = 5")

    refresh = refresh_view("mt_no_index", "command")

    assert refresh.status == "succeeded"
    assert refresh.concurrently is False
    assert fetch_all("SELECT DISTINCT v FROM mt_no_index") == [(5,)]


def test_it_ignores_a_partial_unique_index(make_view):
    make_view("mt_partial", unique_index=False)
    execute("CREATE UNIQUE INDEX mt_partial_id ON mt_partial (id) WHERE id > 1")

    refresh = refresh_view("mt_partial", "command")

    assert refresh.status == "succeeded"
    assert refresh.concurrently is False


def test_readers_are_not_blocked_by_a_concurrent_refresh(
    slow_view, refresh_in_background, second_connection
):
    execute("UPDATE mt_source SET v = 2")
    slow_view(1.5)
    reader = second_connection()
    reader.execute("SET lock_timeout = '300ms'")

    thread = refresh_in_background(slow_view.view)
    during = read_values(reader, slow_view.view)
    thread.join(timeout=30)

    assert during == [1, 1, 1]  # the old contents, without waiting
    assert thread.result.status == "succeeded"
    assert thread.result.concurrently is True
    assert read_values(reader, slow_view.view) == [2, 2, 2]


def test_a_plain_refresh_would_block_the_same_reader(
    slow_view, refresh_in_background, second_connection
):
    execute("DROP INDEX mt_slow_view_id")
    slow_view(1.5)
    reader = second_connection()
    reader.execute("SET lock_timeout = '300ms'")

    thread = refresh_in_background(slow_view.view)
    with pytest.raises(psycopg.errors.LockNotAvailable):
        read_values(reader, slow_view.view)
    thread.join(timeout=30)

    assert thread.result.concurrently is False


def test_a_second_refresh_of_the_same_view_is_skipped(slow_view, refresh_in_background):
    slow_view(1.5)

    thread = refresh_in_background(slow_view.view)
    second = refresh_view(slow_view.view, "schedule")
    thread.join(timeout=30)

    assert second.status == "skipped"
    assert "Another refresh of mt_slow_view was running" in second.error
    assert thread.result.status == "succeeded"
    statuses = ViewRefresh.objects.values_list("status", flat=True)
    assert sorted(statuses) == ["skipped", "succeeded"]


def test_a_refresh_holding_its_lock_is_never_abandoned_however_old(
    slow_view, refresh_in_background, settings
):
    slow_view(1.5)
    thread = refresh_in_background(slow_view.view)
    running = ViewRefresh.objects.get(view_name=slow_view.view, status="running")
    # Requested longer ago than a task may take (it waited for a worker).
    limit = settings.Q_CLUSTER["timeout"] + settings.Q_CLUSTER["retry"]
    ViewRefresh.objects.filter(pk=running.pk).update(
        requested_at=F("requested_at") - timedelta(seconds=limit + 1)
    )

    marked = settle_refreshes(slow_view.view, cluster_alive=True)
    during = ViewRefresh.objects.get(pk=running.pk).status
    thread.join(timeout=30)

    assert marked == 0 and during == "running"
    running.refresh_from_db()
    assert running.status == "succeeded" and running.error == ""


def test_a_failed_refresh_records_its_error_and_keeps_the_contents(
    make_view, second_connection
):
    make_view("mt_divide", "SELECT id, 100 / v AS v FROM mt_source")
    execute("UPDATE mt_source SET v = 0 WHERE id = 2")

    refresh = refresh_view("mt_divide", "schedule")

    assert refresh.status == "failed"
    assert "division by zero" in refresh.error
    assert refresh.finished_at is not None
    assert read_values(second_connection(), "mt_divide") == [100, 100, 100]
    listed = {view.name: view for view in list_materialized_views()}["mt_divide"]
    assert listed.last_status == "failed"
    assert "division by zero" in listed.last_error


def test_a_refresh_over_its_statement_timeout_fails(slow_view, settings):
    settings.MAINTENANCE_REFRESH_STATEMENT_TIMEOUT_MS = 200
    slow_view(2)

    refresh = refresh_view(slow_view.view, "schedule")

    assert refresh.status == "failed"
    assert "statement timeout" in refresh.error
    assert "MAINTENANCE_REFRESH_STATEMENT_TIMEOUT_MS=200" in refresh.error


def test_a_refresh_waiting_for_a_lock_gives_up_after_the_lock_timeout(
    make_view, second_connection, settings
):
    settings.MAINTENANCE_REFRESH_LOCK_TIMEOUT_MS = 200
    make_view("mt_locked")
    holder = second_connection(autocommit=False)
    # An open transaction that refreshed the view holds its ACCESS EXCLUSIVE lock.
    holder.execute("REFRESH MATERIALIZED VIEW mt_locked")

    refresh = refresh_view("mt_locked", "schedule")
    holder.rollback()

    assert refresh.status == "failed"
    assert "lock timeout" in refresh.error


def test_an_unknown_view_is_recorded_as_failed(transactional_db):
    refresh = refresh_view("no_such_view", "command")

    assert refresh.status == "failed"
    assert "no materialized view named 'no_such_view'" in refresh.error


def test_it_lists_views_with_their_state(make_view):
    make_view("mt_listed")
    make_view("mt_unpopulated", populated=False, unique_index=False)
    execute("ANALYZE mt_listed")
    refresh_view("mt_listed", "command")

    views = {view.name: view for view in list_materialized_views()}

    listed, unpopulated = views["mt_listed"], views["mt_unpopulated"]
    assert listed.populated is True
    assert listed.has_unique_index is True
    assert listed.can_refresh_concurrently is True
    assert listed.row_estimate == 3
    assert listed.size_bytes > 0
    assert listed.last_status == "succeeded"
    assert listed.age is not None
    assert listed.in_progress is False
    assert unpopulated.populated is False
    assert unpopulated.can_refresh_concurrently is False
    assert unpopulated.last_status == ""
    assert unpopulated.last_success_at is None


def test_it_prunes_only_old_finished_history(make_view):
    make_view("mt_pruned")
    old = refresh_view("mt_pruned", "command")
    new = refresh_view("mt_pruned", "command")
    ViewRefresh.objects.filter(pk=old.pk).update(
        requested_at=old.requested_at.replace(year=old.requested_at.year - 1)
    )

    assert prune_history(days=30) == 1
    assert list(ViewRefresh.objects.values_list("pk", flat=True)) == [new.pk]


@pytest.fixture
def backdated_activity(transactional_db):
    """Commit one organization with activity from two days ago; return it."""
    from datetime import timedelta

    from django.utils import timezone

    from perfconsole.collaboration.models import (
        CollaborationActivity,
        Organization,
        ProductUser,
        Study,
    )

    org = Organization.objects.create(name="Rollup", slug="rollup")
    study = Study.objects.create(organization=org, title="Rolled")
    CollaborationActivity.objects.create(
        study=study,
        user=ProductUser.objects.create(email="r@rollup.test", full_name="R"),
        activity_type="comment_added",
        created_at=timezone.now() - timedelta(days=2),
    )
    return org


def rollup_covered_until(org):
    [(covered,)] = fetch_all("SELECT organization_rollup_covered_until(%s)", [org.pk])
    return covered


def test_the_activity_rollup_is_rebuilt_vacuumed_and_recorded(backdated_activity):
    assert rollup_covered_until(backdated_activity) is None  # dirty

    refresh = refresh_view(ROLLUP_NAME, "command")

    assert (refresh.status, refresh.view_name) == ("succeeded", ROLLUP_NAME)
    assert rollup_covered_until(backdated_activity) is not None
    assert fetch_all(
        "SELECT sum(total) FROM organization_activity_hourly"
        " WHERE organization_id = %s",
        [backdated_activity.pk],
    ) == [(1,)]
    # VACUUM ran: the visibility map is set, so reads stay index-only.
    assert fetch_all(
        "SELECT relallvisible > 0 FROM pg_class"
        " WHERE relname = 'organization_activity_hourly'"
    ) == [(True,)]


def test_a_second_rollup_rebuild_is_skipped(backdated_activity, second_connection):
    holder = second_connection()
    holder.execute(
        "SELECT pg_advisory_lock(hashtext(%s))", [f"perfconsole.refresh:{ROLLUP_NAME}"]
    )

    refresh = refresh_view(ROLLUP_NAME, "schedule")

    assert refresh.status == "skipped"
    assert rollup_covered_until(backdated_activity) is None


def test_a_failed_rollup_rebuild_keeps_the_previous_rollup(
    backdated_activity, second_connection, settings
):
    refresh_view(ROLLUP_NAME, "command")
    before = fetch_all("SELECT * FROM organization_activity_rollup_state")
    settings.MAINTENANCE_REFRESH_LOCK_TIMEOUT_MS = 200
    holder = second_connection(autocommit=False)
    holder.execute("SELECT 1 FROM organization_activity_rollup_state FOR UPDATE")

    refresh = refresh_view(ROLLUP_NAME, "schedule")
    holder.rollback()

    assert refresh.status == "failed"
    assert "lock timeout" in refresh.error
    assert fetch_all("SELECT * FROM organization_activity_rollup_state") == before
    assert rollup_covered_until(backdated_activity) is not None
