"""Roll raw deltas into hours and hours into days; prune each level.

Rolling is idempotent: a level's rows over a range are deleted and written
again from the level below, and the database remembers up to where each
level is done. Rows of a level are only pruned once they are rolled up, so a
rollup that did not run for a while loses nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from perfconsole.core.db import tag_sql
from perfconsole.core.sqlfiles import SqlFolder

from .collector import without_comments
from .models import (
    CounterDelta,
    Level,
    MonitoredDatabase,
    Snapshot,
    StatementBaseline,
    StatementDelta,
    StatementText,
)

load_rollup = without_comments(SqlFolder(__file__, "rollup").read)
# A collection commits within seconds of its taken_at: an hour is rolled up
# only this long after its end, so no late raw row is left behind.
SETTLE = timedelta(minutes=5)
UTC = timezone.get_fixed_timezone(0)


def truncate(moment: datetime, unit: str) -> datetime:
    """Return the start of the UTC hour or day holding moment."""
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if unit == "day" else moment


def roll(database, level, start, end):
    """Write the level's rows over [start, end) from the level below."""
    unit = "hour" if level == Level.HOURLY else "day"
    params = {
        "database": database.id,
        "level": int(level),
        "from_level": int(level) - 1,
        "unit": unit,
        "start": start,
        "end": end,
    }
    for model in (StatementDelta, CounterDelta):
        model.objects.filter(
            database=database,
            level=level,
            period_start__gte=start,
            period_start__lt=end,
        ).delete()
    with connection.cursor() as cursor:
        for name in ("statements_v1.sql", "counters_v1.sql"):
            cursor.execute(tag_sql(load_rollup(name)), params)


def first_period(database, level):
    """Return the earliest stored period of a level, or None."""
    return (
        CounterDelta.objects.filter(database=database, level=level)
        .aggregate(first=Min("period_start"))
        .get("first")
    )


def rollup(database, now=None):
    """Bring the hourly and daily levels of one database up to date.

    Return {"hourly": (start, end) or None, "daily": ...}: what was rolled.
    """
    now = now or timezone.now()
    done = {}
    with transaction.atomic():
        database = MonitoredDatabase.objects.select_for_update().get(pk=database.pk)
        for level, unit, below, field in (
            (Level.HOURLY, "hour", Level.RAW, "hourly_done_until"),
            (Level.DAILY, "day", Level.HOURLY, "daily_done_until"),
        ):
            if level == Level.HOURLY:
                end = truncate(now - SETTLE, "hour")
            else:
                end = truncate(database.hourly_done_until or now, "day")
            start = getattr(database, field)
            if start is None:
                first = first_period(database, below)
                start = truncate(first, unit) if first else None
            if start is None or start >= end:
                done[level.label] = None
                continue
            roll(database, level, start, end)
            setattr(database, field, end)
            database.save(update_fields=[field])
            done[level.label] = (start, end)
    return done


def retention_cutoffs(now):
    """Return {level: the instant before which its rows are pruned}."""
    return {
        Level.RAW: now - timedelta(days=settings.STATS_RETENTION_RAW_DAYS),
        Level.HOURLY: now - timedelta(days=settings.STATS_RETENTION_HOURLY_DAYS),
        Level.DAILY: now - timedelta(days=settings.STATS_RETENTION_DAILY_DAYS),
    }


def prune(database, now=None):
    """Delete the rows past each level's retention; return counts deleted."""
    now = now or timezone.now()
    cutoffs = retention_cutoffs(now)
    # Never prune what is not rolled up into the next level yet.
    rolled = {
        Level.RAW: database.hourly_done_until,
        Level.HOURLY: database.daily_done_until,
        Level.DAILY: cutoffs[Level.DAILY],
    }
    deleted = {}
    with transaction.atomic():
        for level, cutoff in cutoffs.items():
            limit = min(cutoff, rolled[level]) if rolled[level] else None
            if limit is None:
                continue
            for model in (StatementDelta, CounterDelta):
                count, _ = model.objects.filter(
                    database=database, level=level, period_start__lt=limit
                ).delete()
                name = f"{model.__name__}.{level.label}"
                deleted[name] = deleted.get(name, 0) + count
        count, _ = Snapshot.objects.filter(
            database=database, taken_at__lt=cutoffs[Level.RAW]
        ).delete()
        deleted["Snapshot"] = count
        deleted["StatementText"] = prune_texts(database)
    return deleted


def prune_texts(database):
    """Delete the texts no delta and no baseline refers to any more."""
    in_baseline = StatementBaseline.objects.filter(database=database).values(
        "statement"
    )
    used = StatementDelta.objects.filter(database=database).values("statement")
    count, _ = (
        StatementText.objects.filter(database=database)
        .exclude(id__in=used)
        .exclude(id__in=in_baseline)
        .delete()
    )
    return count


def rollup_all(now=None):
    """Roll up every monitored database."""
    return {db.name: rollup(db, now) for db in MonitoredDatabase.objects.all()}


def prune_all(now=None):
    """Prune every monitored database."""
    return {db.name: prune(db, now) for db in MonitoredDatabase.objects.all()}
