"""The materialized-view rules (failed refresh, stale view) and the task."""

from datetime import datetime

import pytest
from django.utils import timezone
from django_q.tasks import async_task, result

from perfconsole.alerts.evaluation import evaluate_alerts
from perfconsole.alerts.models import Alert, AlertRule, AlertState
from perfconsole.maintenance.models import ViewRefresh
from perfconsole.maintenance.services import refresh_view

from .conftest import PROBE_SCHEMA, run

pytestmark = pytest.mark.django_db(transaction=True)

VIEW = f"{PROBE_SCHEMA}.divided"


@pytest.fixture
def view(rules, probe):
    """A materialized view whose refresh fails while its source holds a zero."""
    run(f"CREATE TABLE {PROBE_SCHEMA}.source (x int)")
    run(f"INSERT INTO {PROBE_SCHEMA}.source VALUES (1)")
    run(
        f"CREATE MATERIALIZED VIEW {VIEW}"
        f" AS SELECT 1 / x AS v FROM {PROBE_SCHEMA}.source"
    )
    return VIEW


def local(*args):
    return timezone.make_aware(datetime(*args))


def test_a_failed_refresh_fires_and_a_good_one_resolves(view):
    assert refresh_view(view, trigger="command").status == "succeeded"
    evaluate_alerts()
    assert not Alert.objects.filter(rule__metric="refresh_failed", subject=view)

    run(f"UPDATE {PROBE_SCHEMA}.source SET x = 0")
    assert refresh_view(view, trigger="command").status == "failed"
    evaluate_alerts()
    alert = Alert.objects.get(rule__metric="refresh_failed", subject=view)
    assert alert.state == AlertState.FIRING and "division by zero" in alert.detail

    run(f"UPDATE {PROBE_SCHEMA}.source SET x = 1")
    assert refresh_view(view, trigger="command").status == "succeeded"
    evaluate_alerts()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


def test_a_view_stale_in_business_hours_fires_and_resolves(view, settings):
    settings.ALERT_BUSINESS_DAYS, settings.ALERT_BUSINESS_HOURS = (
        [1, 2, 3, 4, 5],
        (8, 19),
    )
    AlertRule.objects.exclude(metric="matview_stale_hours").update(enabled=False)
    refresh = refresh_view(view, trigger="schedule")
    # The refresh really ran; its time is moved to a known Wednesday morning
    # so the business-hours arithmetic is the same whenever the test runs.
    ViewRefresh.objects.filter(pk=refresh.pk).update(
        finished_at=local(2026, 11, 25, 9, 0)
    )

    evaluate_alerts(now=local(2026, 11, 25, 10, 30))
    assert not Alert.objects.filter(subject=view), "1.5 h is not stale"

    evaluate_alerts(now=local(2026, 11, 25, 12, 0))
    alert = Alert.objects.get(subject=view)
    assert alert.value == 3.0 and alert.state == AlertState.FIRING

    # Saturday: not judged, the alert is left as it is.
    evaluate_alerts(now=local(2026, 11, 28, 12, 0))
    alert.refresh_from_db()
    assert alert.state == AlertState.FIRING and alert.value == 3.0

    # Monday 09:00: counted from 08:00, the weekend does not make it stale.
    evaluate_alerts(now=local(2026, 11, 30, 9, 0))
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


def test_the_scheduled_task_evaluates_the_rules(view):
    run(f"UPDATE {PROBE_SCHEMA}.source SET x = 0")
    refresh_view(view, trigger="command")
    task_id = async_task("perfconsole.alerts.tasks.evaluate_alerts", sync=True)
    assert "rules evaluated" in result(task_id)
    assert Alert.objects.filter(rule__metric="refresh_failed", subject=view).exists()
