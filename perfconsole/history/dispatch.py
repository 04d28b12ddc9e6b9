"""Collect every monitored database, each in a task of its own.

The "collect-statistics" schedule runs dispatch() every minute: it enqueues
one collect_target task per enabled target whose interval has elapsed, so a
slow or unreachable target holds one worker for at most its timeouts and
never delays the others; more workers (more qcluster processes, on more
machines, against the same broker) collect more targets at once. The
console's own database is collected in the dispatch itself, as before.

After each collection the target's status says whether it could be read
(up) or not (down, with the reason, since when), and the "database
unreachable" alert rules are evaluated at once when it changed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.cache import caches
from django.db import DatabaseError
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from .collector import collect
from .models import MonitoredDatabase, Snapshot

logger = logging.getLogger(__name__)

TASK = "perfconsole.history.tasks.collect_target"
# A target's task is stopped (its worker restarted) after this long: the
# connect and statement timeouts end a normal collection much sooner.
TASK_TIMEOUT_S = 120
# A collection is due a little before its interval has passed: the
# scheduler's minutes drift by up to about half a minute.
EARLY_S = 30
QUEUED = "history:collect-queued:{}"


def queued_marks():
    """Return the cache that marks targets queued (shared by every process)."""
    return caches["tasks"]


def due_targets(now, databases=None):
    """Return the enabled databases whose collection interval has elapsed.

    The last collection (of any status) of each is one probe of the
    snapshots' (database, taken_at) index.
    """
    if databases is None:
        databases = MonitoredDatabase.objects.all()
    last = Snapshot.objects.filter(database=OuterRef("pk")).order_by("-taken_at")
    databases = databases.filter(enabled=True).annotate(
        last_taken=Subquery(last.values("taken_at")[:1])
    )
    due = []
    for database in databases.order_by("pk"):
        early = min(EARLY_S, database.collect_interval_s / 2)
        if database.last_taken is None or now - database.last_taken >= timedelta(
            seconds=database.collect_interval_s - early
        ):
            due.append(database)
    return due


def dispatch(now=None, sync=False, broker=None, databases=None):
    """Enqueue the due targets' collections; collect the console's own here.

    A target whose previous task is still queued or running is not queued
    again. sync runs each task in this process (tests, one-off commands);
    broker and databases (a queryset) let benchfleet use a queue of its own
    for targets of its own. Return one line per database.
    """
    from django_q.tasks import async_task

    now = now or timezone.now()
    lines, console = [], None
    for database in due_targets(now, databases):
        if database.is_console_database:
            console = database
            continue
        key = QUEUED.format(database.pk)
        if not queued_marks().add(key, now.isoformat(), timeout=TASK_TIMEOUT_S * 2):
            lines.append(f"{database.name}: still queued or running")
            continue
        async_task(
            TASK,
            database.pk,
            task_name=f"collect {database.name}"[:100],
            group="collect-target",
            timeout=TASK_TIMEOUT_S,
            sync=sync,
            broker=broker,
        )
        lines.append(f"{database.name}: queued")
    if console is not None:
        lines.insert(0, f"{console.name}: {collect_and_judge(console).describe()}")
    return "\n".join(lines) or "no database due"


def collect_target(pk):
    """Collect one target (a task); return what it did, in one line."""
    try:
        database = MonitoredDatabase.objects.filter(pk=pk, enabled=True).first()
        if database is None:
            return f"database {pk}: removed or disabled since it was queued"
        return f"{database.name}: {collect_and_judge(database).describe()}"
    finally:
        queued_marks().delete(QUEUED.format(pk))


def collect_and_judge(database):
    """Collect a database, record its status, raise or resolve its alert."""
    outcome = collect(database)
    if outcome.skipped or outcome.snapshot is None:
        return outcome
    try:
        changed = record_status(database, outcome.down_reason, timezone.now())
        if changed:
            judge_reachability()
    except DatabaseError as error:
        logger.warning("Could not record the status of %s: %s", database.name, error)
    return outcome


def record_status(database, down_reason, now):
    """Record whether the database could be read; return True if it changed.

    status_since is when the status began: kept while a target stays down,
    even when the reason changes (a refused login, then a timeout).
    """
    status = MonitoredDatabase.DOWN if down_reason else MonitoredDatabase.UP
    fields = {"last_checked_at": now, "status_reason": down_reason or ""}
    changed = database.status != status
    if changed or database.status_since is None:
        fields.update(status=status, status_since=now)
    MonitoredDatabase.objects.filter(pk=database.pk).update(**fields)
    for name, value in fields.items():
        setattr(database, name, value)
    return changed


def judge_reachability():
    """Evaluate the "database unreachable" rules now (alerts app)."""
    from perfconsole.alerts.evaluation import evaluate_alerts
    from perfconsole.alerts.models import Metric

    return evaluate_alerts(only_metrics=[Metric.DATABASE_UNREACHABLE])
