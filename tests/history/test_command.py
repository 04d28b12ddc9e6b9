"""collectstats and the schedules setupschedules writes for the history."""

import io

from django.core.management import call_command
from django_q.models import Schedule

from perfconsole.history.models import Snapshot


def run(*args):
    out = io.StringIO()
    call_command("collectstats", *args, stdout=out)
    return out.getvalue()


def test_collectstats_takes_a_snapshot_and_says_what_it_stored(history_db):
    run()
    second = run()
    assert "ok" in second and " ms" in second and "statement" in second
    assert Snapshot.objects.count() == 2
    assert "rollup:" in run("--rollup")
    assert "prune:" in run("--prune")
    assert Snapshot.objects.count() == 2


def test_setupschedules_writes_the_history_schedules(transactional_db, settings):
    settings.STATS_INTERVAL_SECONDS = 150
    call_command("setupschedules", "--reset", stdout=io.StringIO())
    collect = Schedule.objects.get(name="collect-statistics")
    assert collect.func == "perfconsole.history.tasks.collect_statistics"
    assert (collect.schedule_type, collect.minutes) == (Schedule.MINUTES, 2)
    for name in ("rollup-statistics", "prune-statistics"):
        assert Schedule.objects.get(name=name).schedule_type == Schedule.HOURLY


def test_the_tasks_run(history_db):
    from perfconsole.history import tasks

    assert "snapshot" in tasks.collect_statistics()
    assert "hourly" in tasks.rollup_statistics()
    assert "Snapshot" in tasks.prune_statistics()


def test_benchhistory_measures_and_leaves_no_tables(history_db):
    from django.db import connection

    out = io.StringIO()
    call_command("benchhistory", "--statements", "30", "--collections", "2", stdout=out)
    text = out.getvalue()
    assert "rows stored per collection" in text and "MB per day" in text
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'history_bench%'"
        )
        assert cursor.fetchone() == (0,)
