"""Evaluate alert rules: open, update and resolve alerts, then notify.

Safe to run twice at once: a partial unique index allows one open alert per
(rule, subject), and state changes are conditional updates, so only the run
that really opened or resolved an alert sends its notification.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from perfconsole.core.db import StatisticsUnavailable

from . import metrics, notifications
from .models import OPEN_STATES, Alert, AlertRule, AlertState, NotificationEvent

logger = logging.getLogger(__name__)


@dataclass
class Summary:
    """What one evaluation did, for the command and the task result."""

    rules: int = 0
    fired: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    resolved: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def __str__(self):
        text = (
            f"{self.rules} rules evaluated: {len(self.fired)} fired, "
            f"{len(self.updated)} still open, {len(self.resolved)} resolved"
        )
        if self.errors:
            text += (
                f", {len(self.errors)} rules without data ({'; '.join(self.errors)})"
            )
        return text


def evaluate_alerts(now=None, only_metrics=None):
    """Evaluate every enabled rule and notify about alerts fired or resolved.

    only_metrics: only these metrics' rules (a collection judges whether
    its target is reachable at once, not at the next evaluation).
    """
    summary = Summary()
    now = now or timezone.now()
    rules = AlertRule.objects.filter(enabled=True)
    if only_metrics is not None:
        rules = rules.filter(metric__in=only_metrics)
    for rule in rules:
        summary.rules += 1
        try:
            observations = metrics.observe(rule, now)
        except StatisticsUnavailable as error:
            logger.warning("alert rule %r: %s", rule.name, error)
            summary.errors.append(f"{rule.name}: {error}")
            continue
        if observations is None:
            continue
        evaluate_rule(rule, observations, summary, now)
    notifier = notifications.Notifier()
    for alert in summary.fired:
        notifier.notify(alert, NotificationEvent.FIRED)
    for alert in summary.resolved:
        notifier.notify(alert, NotificationEvent.RESOLVED)
    return summary


def evaluate_rule(rule, observations, summary, now):
    """Apply one rule's observations to its alerts."""
    breaching = {o.subject: o for o in observations if rule.breached_by(o.value)}
    open_alerts = {a.subject: a for a in rule.alerts.filter(state__in=OPEN_STATES)}
    for subject, observation in breaching.items():
        alert = open_alerts.get(subject)
        if alert is not None:
            refresh_alert(alert, observation, now)
            summary.updated.append(alert)
            continue
        alert, is_new = open_alert(rule, observation, now)
        (summary.fired if is_new else summary.updated).append(alert)
    for subject, alert in open_alerts.items():
        if subject not in breaching and resolve_alert(alert, now):
            summary.resolved.append(alert)


def refresh_alert(alert, observation, now):
    """Record the latest value of an alert that is still open."""
    alert.value, alert.last_seen = observation.value, now
    alert.detail = observation.detail
    Alert.objects.filter(pk=alert.pk).update(
        value=alert.value, last_seen=now, detail=alert.detail
    )


def open_alert(rule, observation, now):
    """Open an alert for a subject; return it and whether it is newly firing.

    Within the rule's cooldown after the subject last fired, the previous
    alert is reopened instead, without a new notification (no flapping).
    """
    recent = (
        rule.alerts.filter(
            subject=observation.subject,
            state=AlertState.RESOLVED,
            first_seen__gte=now - timedelta(minutes=rule.cooldown_minutes),
        )
        .order_by("-first_seen")
        .first()
    )
    fields = {
        "value": observation.value,
        "detail": observation.detail,
        "last_seen": now,
        "state": AlertState.FIRING,
        "resolved_at": None,
    }
    try:
        with transaction.atomic():
            if recent is not None:
                Alert.objects.filter(pk=recent.pk).update(**fields)
                recent.refresh_from_db()
                return recent, False
            alert = Alert.objects.create(
                rule=rule, subject=observation.subject, first_seen=now, **fields
            )
            return alert, True
    except IntegrityError:
        # Another evaluation opened it first: update that one.
        alert = rule.alerts.get(subject=observation.subject, state__in=OPEN_STATES)
        refresh_alert(alert, observation, now)
        return alert, False


def resolve_alert(alert, now):
    """Resolve an open alert; return False if someone else already did."""
    resolved = Alert.objects.filter(pk=alert.pk, state__in=OPEN_STATES).update(
        state=AlertState.RESOLVED, resolved_at=now, last_seen=now
    )
    if resolved:
        alert.state, alert.resolved_at, alert.last_seen = AlertState.RESOLVED, now, now
    return bool(resolved)


def acknowledge(alerts, user, now=None):
    """Acknowledge firing alerts; return the ones that changed."""
    now = now or timezone.now()
    changed = []
    for alert in alerts:
        updated = Alert.objects.filter(pk=alert.pk, state=AlertState.FIRING).update(
            state=AlertState.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=user
        )
        if updated:
            changed.append(alert)
    return changed
