"""Replication across the monitored databases: standbys of a target, lag, slots.

A standby is a MonitoredDatabase whose `primary` is another target. Index
usage adds the scans of a target's standbys to its own before an index is
called unused; the alert rules read lag and slots on each target in turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS
from django.db.models import TextField, Value
from django.db.models.functions import Concat

from perfconsole.core.db import StatisticsUnavailable, fetch_dicts
from perfconsole.history.connections import PasswordMissing, connection_alias
from perfconsole.history.models import MonitoredDatabase

from . import statistics
from .statistics import read_sql


def target_alias(database):
    """Return the alias reaching a target; a missing password is unavailability."""
    try:
        return connection_alias(database)
    except PasswordMissing as missing:
        raise StatisticsUnavailable(str(missing)) from None


def standbys_of(database):
    """Return the targets registered as standbys of a database, by name."""
    return list(MonitoredDatabase.objects.filter(primary=database).order_by("name"))


@dataclass
class StandbyScans:
    """Index scans counted on a target's standbys, and which standbys counted."""

    scans: dict[str, int] = field(default_factory=dict)
    counted: list[str] = field(default_factory=list)
    # (standby name, why its scans are not in the sums)
    not_counted: list[tuple[str, str]] = field(default_factory=list)

    def of(self, subject):
        return self.scans.get(subject, 0)

    def servers(self, primary_name):
        """Say which servers' scans were summed, and which could not be."""
        text = "Scans counted on " + ", ".join([primary_name, *self.counted])
        for name, reason in self.not_counted:
            text += f"; standby {name} not counted ({reason})"
        return text


def standby_index_scans(database, subjects):
    """Sum the scans of the named indexes (schema.index) on a target's standbys.

    A standby that is disabled or cannot be read is named in not_counted:
    its scans are unknown, so an index may still serve reads there.
    """
    result = StandbyScans()
    if not subjects:
        return result
    for standby in standbys_of(database):
        if not standby.enabled:
            result.not_counted.append((standby.name, "disabled"))
            continue
        try:
            rows = fetch_dicts(
                read_sql("index_scans_v1.sql"),
                [list(subjects)],
                using=target_alias(standby),
            )
        except StatisticsUnavailable as error:
            result.not_counted.append((standby.name, str(error)))
            continue
        result.counted.append(standby.name)
        for row in rows:
            subject = row["subject"]
            result.scans[subject] = result.scans.get(subject, 0) + row["idx_scan"]
    return result


def console_row():
    """Return the console's own monitored database, or None before it exists.

    Unlike history's console_database() it never creates the row: pages
    call this inside read-only transactions.
    """
    return MonitoredDatabase.objects.filter(is_console_database=True).first()


def database_of_alias(alias):
    """Return the monitored database with standbys that an alias reaches, or None.

    The console's own database for the default alias.
    """
    if alias == DEFAULT_DB_ALIAS:
        return console_row()
    primaries = MonitoredDatabase.objects.filter(standbys__isnull=False).distinct()
    for database in primaries:
        try:
            if target_alias(database) == alias:
                return database
        except StatisticsUnavailable:
            continue
    return None


def without_standby_scans(queryset):
    """Leave out of unscanned indexes those the target's standbys scanned.

    queryset holds rows of monitoring's IndexUsage read on the target (its
    alias is queryset.db). Return the queryset and a sentence naming the
    servers whose scans were counted ("" when the target has no standby).
    """
    database = database_of_alias(queryset.db)
    if database is None or not database.standbys.exists():
        return queryset, ""
    subjects = [
        f"{schema}.{index}"
        for schema, index in queryset.values_list("schema_name", "index_name")
    ]
    scans = standby_index_scans(database, subjects)
    scanned = [subject for subject in subjects if scans.of(subject) > 0]
    if scanned:
        queryset = queryset.annotate(
            subject=Concat(
                "schema_name", Value("."), "index_name", output_field=TextField()
            )
        ).exclude(subject__in=scanned)
    note = (
        f"{scans.servers(database.name)}: an index one of them scanned is not listed."
    )
    return queryset, note


def lag_reason(alias):
    """Return why the server behind an alias counts as lagging, or None.

    Only a standby lags: its replay delay, or the WAL it received and has
    not replayed, passes the threshold of the enabled replication lag rule
    of that unit, or its replay is paused.
    """
    from perfconsole.alerts.models import AlertRule, Metric

    row = statistics.receiver(alias)
    if not row["in_recovery"]:
        return None
    limits = dict(
        AlertRule.objects.filter(
            enabled=True,
            metric__in=[Metric.REPLICATION_LAG_SECONDS, Metric.REPLICATION_LAG_BYTES],
        ).values_list("metric", "threshold")
    )
    reasons = []
    seconds, delay = limits.get(Metric.REPLICATION_LAG_SECONDS), row["replay_delay_s"]
    if seconds is not None and delay is not None and delay > seconds:
        reasons.append(f"replay {delay:,.0f} s behind")
    limit, behind = limits.get(Metric.REPLICATION_LAG_BYTES), row["replay_behind_bytes"]
    if limit is not None and behind is not None and behind > limit:
        reasons.append(f"{behind:,} bytes received and not replayed")
    if statistics.is_paused(row):
        reasons.append(f"replay {row['replay_pause_state']}")
    return ", ".join(reasons) or None


def standby_label(target, sender):
    """Name a standby as its primary's pg_stat_replication shows it."""
    name = sender["application_name"] or "unnamed"
    return f"{target.name} → {name} ({sender['client']})"


def lag_bytes(target):
    """Return (subject, bytes, detail) for each standby the target sends WAL to.

    target: the alert metrics' Target (a monitored database and its alias).
    """
    return [
        (
            standby_label(target.database, sender),
            float(sender["replay_behind_bytes"]),
            f"state {sender['state']}, {sender['sync_state']}; replay "
            f"{sender['replay_behind_bytes']:,} bytes behind "
            f"(flush {sender['flush_behind_bytes']:,})",
        )
        for sender in statistics.senders(target.using)
        if sender["replay_behind_bytes"] is not None
    ]


def lag_seconds(target):
    """Return (subject, seconds, detail) of the target's replication, both sides.

    The replay_lag the target measures for each standby it sends to, and,
    when the target is a standby, its own replay delay (the primary's view
    misses a paused replay: its replay_lag is only measured when replay
    moves).
    """
    database = target.database
    observations = [
        (
            standby_label(database, sender),
            float(sender["replay_lag_s"] or 0.0),
            f"replay lag measured by {database.name}",
        )
        for sender in statistics.senders(target.using)
    ]
    if database.role != MonitoredDatabase.STANDBY:
        return observations
    row = statistics.receiver(target.using)
    if row["replay_delay_s"] is not None:
        paused = "replay paused; " if statistics.is_paused(row) else ""
        observations.append(
            (
                f"{database.name} (replay delay)",
                float(row["replay_delay_s"]),
                f"{paused}{row['replay_behind_bytes'] or 0:,} bytes received "
                "and not replayed",
            )
        )
    return observations


def inactive_slots(target):
    """Return (subject, bytes kept, detail) for each inactive slot of the target."""
    return [
        (
            f"{target.database.name}: slot {slot['slot_name']}",
            float(slot["retained_bytes"] or 0),
            f"{slot['slot_type']} slot, inactive, WAL status {slot['wal_status']}",
        )
        for slot in statistics.slots(target.using)
        if not slot["active"]
    ]
