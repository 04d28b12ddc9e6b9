"""Evaluate alert rules: open, update and resolve alerts, then notify.

Every rule is judged on each enabled target in turn; an alert names its
target. A target that cannot be read (or that its last collection found
down) keeps its alerts as they are, neither opened nor resolved, and the
other targets are judged all the same.

Safe to run twice at once: a partial unique index allows one open alert per
(rule, target, subject), and state changes are conditional updates, so only
the run that really opened or resolved an alert sends its notification.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.utils import timezone

from perfconsole.core.db import StatisticsUnavailable
from perfconsole.history.collector import console_database
from perfconsole.history.connections import PasswordMissing
from perfconsole.history.models import MonitoredDatabase
from perfconsole.history.readers import TargetUnreachable, connect_target

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
    # Why each target whose alerts were left as they are was not read.
    unread: list = field(default_factory=list)

    def __str__(self):
        text = (
            f"{self.rules} rules evaluated: {len(self.fired)} fired, "
            f"{len(self.updated)} still open, {len(self.resolved)} resolved"
        )
        if self.errors:
            text += (
                f", {len(self.errors)} rules without data ({'; '.join(self.errors)})"
            )
        if self.unread:
            text += f"; targets not read ({'; '.join(self.unread)})"
        return text


def evaluate_alerts(now=None, only_metrics=None):
    """Evaluate every enabled rule on every enabled target, then notify.

    only_metrics: only these metrics' rules (a collection judges whether
    its target is reachable at once, not at the next evaluation).
    """
    summary = Summary()
    now = now or timezone.now()
    rules = AlertRule.objects.filter(enabled=True)
    if only_metrics is not None:
        rules = rules.filter(metric__in=only_metrics)
    rules = list(rules)
    summary.rules = len(rules)
    if rules:
        for database in evaluated_targets():
            evaluate_target(database, rules, summary, now)
    notifier = notifications.Notifier()
    for alert in summary.fired:
        notifier.notify(alert, NotificationEvent.FIRED)
    for alert in summary.resolved:
        notifier.notify(alert, NotificationEvent.RESOLVED)
    return summary


def evaluated_targets():
    """Return every enabled target, the console's own database first."""
    console_database()
    return MonitoredDatabase.objects.filter(enabled=True).order_by(
        "-is_console_database", "name"
    )


def evaluate_target(database, rules, summary, now):
    """Evaluate the rules on one target, unless it cannot be read.

    Rules on the status its collection recorded (database unreachable) are
    judged whatever the target's state. For the others the target is
    connected to once: a target down at its last collection is not tried
    (each try of a host that does not answer costs the connect timeout).
    """
    reading = [rule for rule in rules if rule.metric not in metrics.STATUS_METRICS]
    alias, why_not = connect(database) if reading else ("", None)
    if why_not is not None:
        summary.unread.append(why_not)
    target = metrics.Target(database, alias)
    try:
        for rule in rules:
            if why_not is not None and rule.metric not in metrics.STATUS_METRICS:
                continue
            try:
                observations = metrics.observe(rule, now, target)
            except StatisticsUnavailable as error:
                logger.warning("alert rule %r on %s: %s", rule.name, database, error)
                summary.errors.append(f"{rule.name}: {database.name}: {error}")
                continue
            if observations is not None:
                evaluate_rule(rule, database, observations, summary, now)
    finally:
        if alias and alias != DEFAULT_DB_ALIAS:
            connections[alias].close()


def connect(database):
    """Connect to a target; return (its alias, None) or ("", why it is not read).

    The console's own database is always read: the console runs on it, and
    its collection may call it down for a missing extension alone.
    """
    if database.is_console_database:
        return DEFAULT_DB_ALIAS, None
    if database.status == MonitoredDatabase.DOWN:
        return "", f"{database.name} is down: {database.status_reason}"
    try:
        return connect_target(database), None
    except (TargetUnreachable, PasswordMissing) as error:
        return "", f"{database.name}: {error}"


def evaluate_rule(rule, database, observations, summary, now):
    """Apply one rule's observations on one target to that target's alerts."""
    breaching = {o.subject: o for o in observations if rule.breached_by(o.value)}
    open_alerts = {
        a.subject: a
        for a in rule.alerts.filter(database=database, state__in=OPEN_STATES)
    }
    for subject, observation in breaching.items():
        alert = open_alerts.get(subject)
        if alert is not None:
            refresh_alert(alert, observation, now)
            summary.updated.append(alert)
            continue
        alert, is_new = open_alert(rule, database, observation, now)
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


def open_alert(rule, database, observation, now):
    """Open an alert for a target's subject; return it and whether it is new.

    Within the rule's cooldown after the subject last fired, the previous
    alert is reopened instead, without a new notification (no flapping).
    """
    recent = (
        rule.alerts.filter(
            database=database,
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
                rule=rule,
                database=database,
                subject=observation.subject,
                first_seen=now,
                **fields,
            )
            return alert, True
    except IntegrityError:
        # Another evaluation opened it first: update that one.
        alert = rule.alerts.get(
            database=database, subject=observation.subject, state__in=OPEN_STATES
        )
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
