"""The fleet overview: one row per enabled target, the worst first.

From the console's database, in a fixed number of queries whatever the
number of targets: the targets, their latest collection and recent
transactions per second (one query), their open alerts (one query). From
each target, through its own alias and with a short statement timeout: its
client connections and (cached a minute) its health checks. A target that
cannot be read is shown down with the reason; the others still are read. A
target a collection or a connection test found down within its interval is
not connected to again: it is shown down with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Count
from django.utils import timezone

from perfconsole.core.db import StatisticsUnavailable, monitoring_cursor, tag_sql
from perfconsole.core.sqlfiles import SqlFolder

from .collector import without_comments
from .connection_test import one_line, scrub
from .connections import PasswordMissing, connection_alias
from .models import MonitoredDatabase

load_fleet = without_comments(SqlFolder(__file__, "fleet").read)

# A target gets this long per statement: a slow one must not hold the page.
READ_TIMEOUT_MS = 2000
# Transactions per second are averaged over this many latest collections.
RECENT_COLLECTIONS = 5
HEALTH_CACHE_SECONDS = 60
LAGGING = "lagging"
# Worst first: down, lagging, not checked yet, up; then the health state.
STATUS_RANK = {MonitoredDatabase.DOWN: 0, LAGGING: 1, MonitoredDatabase.UNKNOWN: 2}
HEALTH_RANK = {"critical": 0, "warning": 1, None: 2, "ok": 3}
CONNECTIONS_SQL = (
    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
)


@dataclass
class FleetRow:
    """What the overview shows of one target."""

    database: MonitoredDatabase
    status: str
    reason: str = ""
    since: datetime | None = None
    health: str | None = None
    health_note: str = ""
    alerts: int | None = None
    connections: int | None = None
    tps: float | None = None
    last_collection: datetime | None = None

    @property
    def rank(self) -> tuple:
        return (
            STATUS_RANK.get(self.status, len(STATUS_RANK)),
            HEALTH_RANK.get(self.health, HEALTH_RANK[None]),
            -(self.alerts or 0),
            self.database.name.lower(),
        )


def fleet_rows() -> list[FleetRow]:
    """Return one row per enabled target, sorted worst first."""
    targets = list(
        MonitoredDatabase.objects.filter(enabled=True).order_by(
            "-is_console_database", "name"
        )
    )
    latest = latest_collections(targets)
    alerts = open_alerts_by_target(targets)
    rows = []
    for target in targets:
        row = target_row(target)
        row.alerts = alerts.get(target.pk, 0)
        row.last_collection, row.tps = latest.get(target.pk, (None, None))
        rows.append(row)
    return sorted(rows, key=lambda row: row.rank)


def latest_collections(targets) -> dict[int, tuple[datetime | None, float | None]]:
    """Return {target id: (latest collection, transactions per second)}."""
    if not targets:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            tag_sql(load_fleet("latest_v1.sql")),
            {
                "ids": [target.pk for target in targets],
                "collections": RECENT_COLLECTIONS,
            },
        )
        rows = cursor.fetchall()
    return {
        pk: (taken_at, float(xacts) / seconds if seconds else None)
        for pk, taken_at, seconds, xacts in rows
    }


def open_alerts_by_target(targets) -> dict[int, int]:
    """Return {target id: open alerts} in one grouped query."""
    from perfconsole.alerts.models import Alert, AlertState

    rows = (
        Alert.objects.exclude(state=AlertState.RESOLVED)
        .filter(database__in=[target.pk for target in targets])
        .values("database")
        .annotate(total=Count("id"))
        .order_by()
    )
    return {row["database"]: row["total"] for row in rows}


def target_row(target: MonitoredDatabase) -> FleetRow:
    """Read one target: connections and health, or down with the reason."""
    if known_down(target):
        return down_row(target, scrub(target.status_reason, target))
    try:
        alias = connection_alias(target)
    except PasswordMissing as error:
        return down_row(target, str(error))
    try:
        with monitoring_cursor(alias, READ_TIMEOUT_MS) as cursor:
            cursor.execute(tag_sql(CONNECTIONS_SQL))
            (client_connections,) = cursor.fetchone()
        row = up_row(target)
        if target.role == MonitoredDatabase.STANDBY:
            lagging_row(row, alias)
        row.connections = client_connections
        row.health, row.health_note = health_of(target, alias)
        return row
    except StatisticsUnavailable as error:
        return down_row(target, scrub(one_line(error), target))
    finally:
        if alias != DEFAULT_DB_ALIAS:
            connections[alias].close()


def known_down(target: MonitoredDatabase) -> bool:
    """Return True if a check within the target's interval found it down.

    A host that does not answer costs the whole connect timeout: the page
    does not wait for it again before its next collection or test does.
    """
    if target.status != MonitoredDatabase.DOWN or target.last_checked_at is None:
        return False
    interval = timedelta(seconds=target.collect_interval_s)
    return timezone.now() - target.last_checked_at < interval


def down_row(target: MonitoredDatabase, reason: str) -> FleetRow:
    """Return a target that could not be read; since: when it was marked down."""
    since = target.status_since if target.status == MonitoredDatabase.DOWN else None
    return FleetRow(
        target, MonitoredDatabase.DOWN, reason, since, health_note="not checked: down"
    )


def up_row(target: MonitoredDatabase) -> FleetRow:
    """Return a target that answered: up, or lagging if its status says so."""
    if target.status == LAGGING:
        return FleetRow(target, LAGGING, target.status_reason, target.status_since)
    since = target.status_since if target.status == MonitoredDatabase.UP else None
    return FleetRow(target, MonitoredDatabase.UP, target.status_reason, since)


def lagging_row(row: FleetRow, alias: str) -> None:
    """Mark a standby lagging when its replay is late or paused (the reason)."""
    from perfconsole.replication.fleet import lag_reason

    reason = lag_reason(alias)
    if reason:
        row.status, row.reason, row.since = LAGGING, reason, None


def health_of(target: MonitoredDatabase, alias: str) -> tuple[str | None, str]:
    """Return the target's worst health state and a note, cached a minute.

    None means not checked: the checks could not run on this target. The
    alias names the target's connection settings: changed settings, new key.
    """
    key = f"history:fleet:health:{alias}"
    summary = cache.get(key)
    if summary is None:
        summary = run_health_checks(target)
        cache.set(key, summary, HEALTH_CACHE_SECONDS)
    return summary


def run_health_checks(target: MonitoredDatabase) -> tuple[str | None, str]:
    """Run every health check on the target; return (worst state, note)."""
    from perfconsole.health.registry import overall_status, run_all_checks

    from .scoping import Scope

    scope = None if target.is_console_database else Scope(target)
    results = run_all_checks(scope=scope)
    ran = [result for result in results if not result.error]
    if not ran:
        reason = results[0].error if results else "no check is registered"
        return None, f"not checked: {reason}"
    failed = len(results) - len(ran)
    note = f"{failed} of {len(results)} checks could not run" if failed else ""
    return overall_status(ran), note
