"""setupschedules and refreshviews, run as commands."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from perfconsole.maintenance.models import ViewRefresh

from .conftest import execute, fetch_all

EXPECTED = {
    "refresh-materialized-views": (
        "perfconsole.maintenance.tasks.refresh_all_views",
        Schedule.CRON,
        "0 8-18 * * 1-5",
        None,
    ),
    "refresh-activity-rollup": (
        "perfconsole.maintenance.tasks.refresh_view_task",
        Schedule.MINUTES,
        None,
        15,
    ),
    "evaluate-alerts": (
        "perfconsole.alerts.tasks.evaluate_alerts",
        Schedule.MINUTES,
        None,
        5,
    ),
    "prune-history": (
        "perfconsole.maintenance.tasks.prune_history",
        Schedule.CRON,
        "30 3 * * *",
        None,
    ),
    "collect-statistics": (
        "perfconsole.history.tasks.collect_statistics",
        Schedule.MINUTES,
        None,
        1,
    ),
    "rollup-statistics": (
        "perfconsole.history.tasks.rollup_statistics",
        Schedule.HOURLY,
        None,
        None,
    ),
    "prune-statistics": (
        "perfconsole.history.tasks.prune_statistics",
        Schedule.HOURLY,
        None,
        None,
    ),
}


def run(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def schedules():
    return {
        s.name: (s.func, s.schedule_type, s.cron, s.minutes)
        for s in Schedule.objects.all()
    }


@pytest.mark.django_db
def test_setupschedules_twice_leaves_one_of_each():
    run("setupschedules")
    first_runs = dict(Schedule.objects.values_list("name", "next_run"))

    output = run("setupschedules")

    assert Schedule.objects.count() == len(EXPECTED)
    assert schedules() == EXPECTED
    assert dict(Schedule.objects.values_list("name", "next_run")) == first_runs
    assert "refresh-materialized-views: unchanged" in output


@pytest.mark.django_db
def test_the_refresh_runs_next_in_business_hours():
    run("setupschedules")

    schedule = Schedule.objects.get(name="refresh-materialized-views")
    next_run = timezone.localtime(schedule.next_run)  # cron is read in TIME_ZONE

    assert next_run.minute == 0
    assert 8 <= next_run.hour <= 18
    assert next_run.isoweekday() <= 5


@pytest.mark.django_db
def test_setupschedules_keeps_timing_edited_in_the_admin(settings):
    run("setupschedules")
    Schedule.objects.filter(name="evaluate-alerts").update(minutes=10)
    Schedule.objects.filter(name="prune-history").update(func="somewhere.else")

    output = run("setupschedules")

    alerts = Schedule.objects.get(name="evaluate-alerts")
    assert alerts.minutes == 10
    assert "--reset restores it" in output
    assert Schedule.objects.get(name="prune-history").func == (
        "perfconsole.maintenance.tasks.prune_history"
    )


@pytest.mark.django_db
def test_setupschedules_reset_restores_the_timing_from_settings(settings):
    run("setupschedules")
    settings.MAINTENANCE_REFRESH_CRON = "15 9 * * 1-5"

    run("setupschedules", reset=True)

    refresh = Schedule.objects.get(name="refresh-materialized-views")
    assert refresh.cron == "15 9 * * 1-5"
    next_run = timezone.localtime(refresh.next_run)
    assert (next_run.hour, next_run.minute) == (9, 15)


@pytest.mark.django_db
def test_setupschedules_removes_duplicates():
    for _ in range(2):
        Schedule.objects.create(
            name="prune-history",
            func="perfconsole.maintenance.tasks.prune_history",
            schedule_type=Schedule.DAILY,
        )

    run("setupschedules")

    assert Schedule.objects.filter(name="prune-history").count() == 1


@pytest.mark.django_db
def test_setupschedules_rejects_a_bad_cron(settings):
    settings.MAINTENANCE_REFRESH_CRON = "every hour"

    with pytest.raises(CommandError, match="Invalid schedule"):
        run("setupschedules")
    assert not Schedule.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_refreshviews_sync_refreshes_the_named_view(make_view):
    make_view("mt_command", populated=False)

    output = run("refreshviews", view=["mt_command"], sync=True)

    assert "mt_command: succeeded" in output
    refresh = ViewRefresh.objects.get()
    assert (refresh.trigger, refresh.status) == ("command", "succeeded")
    assert fetch_all("SELECT count(*) FROM mt_command") == [(3,)]


@pytest.mark.django_db(transaction=True)
def test_refreshviews_sync_fails_loudly(make_view):
    make_view("mt_broken", "SELECT id, 100 / v AS v FROM mt_source")
    execute("UPDATE mt_source SET v = 0 WHERE id = 3")

    with pytest.raises(CommandError, match="Refresh failed: mt_broken"):
        run("refreshviews", view=["mt_broken"], sync=True)
    assert ViewRefresh.objects.get().status == "failed"


@pytest.mark.django_db
def test_refreshviews_queues_every_view_once(make_view):
    make_view("mt_q1")
    make_view("mt_q2")

    run("refreshviews", queue=True)
    output = run("refreshviews", queue=True)

    names = set(ViewRefresh.objects.values_list("view_name", flat=True))
    assert {"mt_q1", "mt_q2"} <= names
    assert ViewRefresh.objects.filter(view_name="mt_q1").count() == 1
    assert "mt_q1: already queued" in output
    assert OrmQ.objects.count() == ViewRefresh.objects.count()


@pytest.mark.django_db
def test_refreshviews_rejects_an_unknown_view_and_writes_nothing(make_view):
    make_view("mt_known")

    with pytest.raises(CommandError, match="no materialized view named 'nope'") as e:
        run("refreshviews", view=["mt_known", "nope"])

    assert "Known views: " in str(e.value) and "mt_known" in str(e.value)
    assert not ViewRefresh.objects.exists()
    assert not OrmQ.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_refreshviews_sync_rebuilds_the_activity_rollup():
    output = run("refreshviews", view=["organization_activity_rollup"], sync=True)

    assert "organization_activity_rollup: succeeded" in output
    assert fetch_all(
        "SELECT covered_until IS NOT NULL FROM organization_activity_rollup_state"
    ) == [(True,)]
