"""Evaluation never duplicates alerts, also when two evaluations overlap."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from perfconsole.alerts import metrics
from perfconsole.alerts.evaluation import evaluate_alerts, open_alert
from perfconsole.alerts.models import Alert, AlertRule, AlertState
from perfconsole.history.collector import console_database

from .conftest import PROBE_SCHEMA, create_large_table, run, table_stat, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SUBJECT = f"{PROBE_SCHEMA}.collaboration_activity"


@pytest.fixture
def dead_rows(rules, probe):
    AlertRule.objects.exclude(metric="dead_tuples").update(enabled=False)
    table = create_large_table("collaboration_activity", rows=3000)
    run(f"DELETE FROM {table} WHERE id <= 2500")
    wait_for(
        lambda: table_stat("collaboration_activity", "n_dead_tup"), lambda n: n >= 2500
    )
    return rules["dead_tuples"]


def test_opening_an_alert_someone_else_opened_updates_theirs(dead_rows):
    evaluate_alerts()
    (first,) = Alert.objects.filter(subject=SUBJECT)
    observation = metrics.Observation(SUBJECT, 2600.0, "2600 rows")
    # As a second evaluation would, having read the open alerts just before
    # the first one created this alert.
    alert, is_new = open_alert(
        dead_rows, console_database(), observation, timezone.now()
    )
    assert (alert.pk, is_new) == (first.pk, False)
    (only,) = Alert.objects.filter(subject=SUBJECT)
    assert only.value == 2600 and only.state == AlertState.FIRING


def test_two_evaluations_at_once_leave_one_alert(dead_rows):
    barrier = threading.Barrier(2)
    errors = []

    def evaluate():
        try:
            barrier.wait(timeout=10)
            evaluate_alerts()
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert Alert.objects.filter(subject=SUBJECT).count() == 1


def test_a_rule_without_statistics_is_skipped_and_its_alerts_kept(
    dead_rows, second_connection, settings
):
    settings.MONITORING_LOCK_TIMEOUT_MS = 200
    slow = AlertRule.objects.get(metric="query_mean_time_ms")
    slow.enabled = True
    slow.save()
    now = timezone.now()
    open_slow = Alert.objects.create(
        rule=slow,
        database=console_database(),
        subject="42",
        value=250,
        first_seen=now,
        last_seen=now,
    )
    schema = run(
        "SELECT extnamespace::regnamespace::text FROM pg_extension"
        " WHERE extname = 'pg_stat_statements'"
    )[0][0]
    # A session holding the view exclusively: reading it hits the lock timeout.
    locker = second_connection(autocommit=False)
    locker.execute(f"LOCK TABLE {schema}.pg_stat_statements IN ACCESS EXCLUSIVE MODE")
    try:
        summary = evaluate_alerts()
    finally:
        locker.rollback()

    assert [e.split(":")[0] for e in summary.errors] == ["Slow critical query"]
    assert "lock timeout" in summary.errors[0]
    open_slow.refresh_from_db()
    assert open_slow.state == AlertState.FIRING, "no data must not resolve it"
    assert Alert.objects.filter(subject=SUBJECT, state=AlertState.FIRING).exists()
