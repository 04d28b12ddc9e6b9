"""Read the current value of each alert metric, per subject.

Each metric is a function taking the rule (for its scope), the evaluation
time and the Target judged (a monitored database and the alias reaching it),
and returning a list of Observation for that target, or None when there is no
data right now (extension missing, outside business hours, a metric of the
console's own database asked about another target): open alerts are then
left as they are instead of being resolved.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from perfconsole.core import formatting
from perfconsole.core.db import QUERY_TAG, cache_hits, fetch_dicts
from perfconsole.history import recent
from perfconsole.history.models import MonitoredDatabase
from perfconsole.monitoring.extension import statements_status

from .models import Metric

# A statement that reads or writes rows, after any leading comments.
APPLICATION_STATEMENT = (
    r"^\s*(/\*([^*]|\*+[^*/])*\*+/\s*)*"
    r"(select|with|insert|update|delete|merge|values|table)\M"
)


@dataclass(frozen=True)
class Target:
    """The monitored database a rule is evaluated on, and its connection alias."""

    database: MonitoredDatabase
    using: str


def console_target():
    """Return the console's own database as a Target."""
    from perfconsole.history.collector import console_database

    return Target(console_database(), "default")


@dataclass(frozen=True)
class Observation:
    """One subject's current value, with context for people (query text…)."""

    subject: str
    value: float
    detail: str = ""


def rule_window(rule, now, source, target):
    """Return the rule's window of the target's history (a recent.Window), or None."""
    return recent.covering(rule.window_minutes, now, source, target.database)


def table_scope_sql(rule):
    """Return a WHERE fragment and parameters limiting tables to the rule's scope."""
    sql, params = " AND n_live_tup >= %s", [rule.min_rows]
    if rule.tables:
        sql += " AND relname = ANY(%s)"
        params.append(list(rule.tables))
    return sql, params


def table_stats(rule, target, value_sql, extra_where=""):
    """Return one observation per user table in scope, valued by value_sql."""
    scope_sql, params = table_scope_sql(rule)
    rows = fetch_dicts(
        f"SELECT schemaname || '.' || relname AS subject, {value_sql} AS value,"
        " n_live_tup FROM pg_stat_user_tables"
        f" WHERE true {scope_sql} {extra_where}",
        params,
        using=target.using,
    )
    return [
        Observation(row["subject"], float(row["value"]), f"{row['n_live_tup']:,} rows")
        for row in rows
        if row["value"] is not None
    ]


def scan_share(rule, now, target, column):
    """Return each scanned table's share of scans of one kind (seq or idx), in %.

    Over the rule's window when the statistics history covers it, else over
    the lifetime counters; the detail says which.
    """
    window = rule_window(rule, now, "table", target)
    if window is None:
        return [
            Observation(o.subject, o.value, f"{o.detail}; {recent.LIFETIME}")
            for o in table_stats(
                rule,
                target,
                f"round(100.0 * coalesce({column}, 0)"
                " / (seq_scan + coalesce(idx_scan, 0)), 2)",
                "AND seq_scan + coalesce(idx_scan, 0) > 0",
            )
        ]
    scope_sql, params = table_scope_sql(rule)
    tables = fetch_dicts(
        "SELECT schemaname || '.' || relname AS subject,"
        " quote_ident(schemaname) || '.' || quote_ident(relname) AS key,"
        f" n_live_tup FROM pg_stat_user_tables WHERE true {scope_sql}",
        params,
        using=target.using,
    )
    scans = recent.table_scans(window)
    observations = []
    for table in tables:
        counts = scans.get(table["key"], {})
        seq, idx = counts.get("seq_scan", 0), counts.get("idx_scan", 0)
        if seq + idx > 0:
            share = (seq if column == "seq_scan" else idx) / (seq + idx)
            observations.append(
                Observation(
                    table["subject"],
                    round(100.0 * share, 2),
                    f"{table['n_live_tup']} rows; {seq:,.0f} sequential and "
                    f"{idx:,.0f} index scans {window.words}",
                )
            )
    return observations


def index_usage_pct(rule, now, target):
    """Return the share of scans that used an index, for tables scanned at all."""
    return scan_share(rule, now, target, "idx_scan")


def seq_scan_pct(rule, now, target):
    """Return the share of scans that were sequential, for tables scanned at all."""
    return scan_share(rule, now, target, "seq_scan")


def dead_tuples(rule, now, target):
    """Return the dead tuple count of each table."""
    return table_stats(rule, target, "n_dead_tup")


def query_mean_time_ms(rule, now, target):
    """Return the mean execution time of each critical statement.

    A statement is critical when it mentions one of the rule's tables (as a
    whole word) or its query id is listed; with neither, every statement is.
    The console's own tagged statements are left out. The mean is over the
    rule's window when the statistics history covers it, else over the
    lifetime counters (the detail says which). No data while
    pg_stat_statements is not usable here.
    """
    status = statements_status(target.using)
    if not status.usable:
        return None
    scope_sql, params = statement_scope_sql(rule)
    window = rule_window(rule, now, "statement", target)
    if window is not None:
        rows = recent.statement_means(window, scope_sql, params, QUERY_TAG)
        over = f"mean {window.words}"
    else:
        rows = fetch_dicts(
            "SELECT queryid::text AS subject, min(left(query, 500)) AS detail,"
            " sum(total_exec_time) / nullif(sum(calls), 0) AS value,"
            " sum(calls) AS calls"
            f" FROM {status.qualified_view}"
            " WHERE dbid = (SELECT oid FROM pg_database"
            "               WHERE datname = current_database())"
            f" AND strpos(query, %s) = 0 {scope_sql} GROUP BY queryid",
            [QUERY_TAG, *params],
            using=target.using,
        )
        over = recent.LIFETIME
    return [
        Observation(
            row["subject"],
            round(float(row["value"]), 2),
            f"{row['detail']}\n({over}, {int(row['calls']):,} calls)",
        )
        for row in rows
        if row["value"] is not None
    ]


def statement_scope_sql(rule):
    """Return a WHERE fragment on query and queryid for the rule's scope."""
    scope, params = [], []
    if rule.tables:
        scope.append("query ~* %s")
        params.append(r"\m(" + "|".join(map(regex_escape, rule.tables)) + r")\M")
    if rule.query_ids:
        scope.append("queryid = ANY(%s)")
        params.append(list(rule.query_ids))
    scope_sql = f"AND ({' OR '.join(scope)})" if scope else ""
    # Only the application's statements: COPY, VACUUM, CREATE INDEX… are
    # maintenance, not a critical path, however long they take.
    scope_sql += " AND query ~* %s"
    params.append(APPLICATION_STATEMENT)
    return scope_sql, params


def cache_hit_pct(rule, now, target):
    """Return the buffer cache hit rate of the target's database.

    Over the rule's window when the statistics history covers it, else over
    the lifetime counters.
    """
    hits = cache_hits(target.using)
    window = rule_window(rule, now, "database", target)
    if window is None:
        database, over = hits["database"], recent.LIFETIME
    else:
        database, over = recent.database_hits(window), window.words
    if database.pct is None:
        return []
    return [
        Observation(
            hits["database_name"],
            database.pct,
            f"{database.hit:,} hits, {database.read:,} reads {over}",
        )
    ]


def invalid_index(rule, now, target):
    """Return 1 for each INVALID index (a failed concurrent build).

    The health app's check already finds them, leaving out builds still in
    progress (invalid until they end).
    """
    from perfconsole.health.checks import check_invalid_indexes
    from perfconsole.health.registry import checking

    with checking(target.using, target.database):
        rows = check_invalid_indexes().rows
    return [Observation(row["subject"], 1.0, f"on {row['table_name']}") for row in rows]


def view_refresh_model():
    """Return the maintenance app's ViewRefresh model, or None if absent."""
    try:
        from perfconsole.maintenance.models import ViewRefresh
    except ImportError:
        return None
    return ViewRefresh


def refreshed_view_names():
    """Return the views the console refreshes, with their refresh rows settled.

    Rows whose worker is gone are marked failed first, so a killed refresh is
    judged at once. Views the console only lists (other roles' views) and
    views that no longer exist are not judged.
    """
    from perfconsole.maintenance.services import managed_views, settle_refreshes

    settle_refreshes()
    return {view.name for view in managed_views()}


def in_business_hours(now=None):
    """Return whether now falls in the console's business hours."""
    local = timezone.localtime(now or timezone.now())
    start, end = settings.ALERT_BUSINESS_HOURS
    return (
        local.isoweekday() in settings.ALERT_BUSINESS_DAYS and start <= local.hour < end
    )


def matview_stale_hours(rule, now, target):
    """Return each view's business hours since its last successful refresh.

    Only in business hours, and counted from the start of today's business
    hours at the earliest: views are not refreshed at night or at weekends,
    so Monday 08:05 is not "62 hours stale". Views never refreshed by the
    console are not judged.
    """
    ViewRefresh = view_refresh_model()
    if ViewRefresh is None or not in_business_hours(now):
        return None
    local = timezone.localtime(now)
    day_start = local.replace(
        hour=settings.ALERT_BUSINESS_HOURS[0], minute=0, second=0, microsecond=0
    )
    latest = (
        ViewRefresh.objects.filter(
            status="succeeded", view_name__in=refreshed_view_names()
        )
        .values("view_name")
        .annotate(last=Max("finished_at"))
    )
    return [
        Observation(
            row["view_name"],
            round((now - max(row["last"], day_start)) / timedelta(hours=1), 2),
            f"last refreshed {formatting.timestamp(row['last'])}",
        )
        for row in latest
        if row["last"] is not None
    ]


def refresh_failed(rule, now, target):
    """Return 1 for each view whose latest refresh failed, else 0."""
    ViewRefresh = view_refresh_model()
    if ViewRefresh is None:
        return None
    latest = (
        # Queued, running and skipped refreshes say nothing about the outcome.
        ViewRefresh.objects.filter(
            status__in=["succeeded", "failed"], view_name__in=refreshed_view_names()
        )
        .order_by("view_name", "-requested_at", "-id")
        .distinct("view_name")
        .values("view_name", "status", "error")
    )
    return [
        Observation(
            row["view_name"],
            1.0 if row["status"] == "failed" else 0.0,
            (row.get("error") or "")[:500],
        )
        for row in latest
    ]


def replication_lag_bytes(rule, now, target):
    """Return each standby's replay position behind the target's, in bytes.

    Measured on the target as a primary; the subject names the standby.
    """
    from perfconsole.replication import fleet

    return [Observation(*observed) for observed in fleet.lag_bytes(target)]


def replication_lag_s(rule, now, target):
    """Return the replay lag of the target's standbys, and its own replay delay."""
    from perfconsole.replication import fleet

    return [Observation(*observed) for observed in fleet.lag_seconds(target)]


def inactive_slot_bytes(rule, now, target):
    """Return the WAL each inactive replication slot of the target keeps, in bytes."""
    from perfconsole.replication import fleet

    return [Observation(*observed) for observed in fleet.inactive_slots(target)]


def database_unreachable(rule, now, target):
    """Return 1 when the target is down, 0 when up (no data before a collection).

    Read from the status its collection recorded (history.dispatch), not
    from the target: this metric is judged on down targets too. The subject
    is the target's name, as before alerts carried their target.
    """
    database = target.database
    if database.status not in (MonitoredDatabase.UP, MonitoredDatabase.DOWN):
        return None
    down = database.status == MonitoredDatabase.DOWN
    detail = (
        f"down since {formatting.timestamp(database.status_since)}: "
        f"{database.status_reason}"[:2000]
        if down
        else ""
    )
    return [Observation(database.name, 1.0 if down else 0.0, detail)]


def regex_escape(word):
    """Escape a table name for a PostgreSQL regular expression."""
    return "".join("\\" + ch if not ch.isalnum() and ch != "_" else ch for ch in word)


METRICS = {
    Metric.QUERY_MEAN_TIME_MS: query_mean_time_ms,
    Metric.INDEX_USAGE_PCT: index_usage_pct,
    Metric.SEQ_SCAN_PCT: seq_scan_pct,
    Metric.DEAD_TUPLES: dead_tuples,
    Metric.MATVIEW_STALE_HOURS: matview_stale_hours,
    Metric.REFRESH_FAILED: refresh_failed,
    Metric.CACHE_HIT_PCT: cache_hit_pct,
    Metric.INVALID_INDEX: invalid_index,
    Metric.REPLICATION_LAG_BYTES: replication_lag_bytes,
    Metric.REPLICATION_LAG_SECONDS: replication_lag_s,
    Metric.INACTIVE_SLOT_BYTES: inactive_slot_bytes,
    Metric.DATABASE_UNREACHABLE: database_unreachable,
}


# Metrics of the console's own maintenance app (its view refreshes): judged
# on the console's database only, never on another target.
CONSOLE_ONLY_METRICS = {Metric.MATVIEW_STALE_HOURS, Metric.REFRESH_FAILED}
# Metrics read from the status the collection recorded in the console's
# tables: judged on every enabled target, a down one included, without
# connecting to it.
STATUS_METRICS = {Metric.DATABASE_UNREACHABLE}


def observe(rule, now, target):
    """Return a rule's observations on one target (None = no data)."""
    if rule.metric in CONSOLE_ONLY_METRICS and not target.database.is_console_database:
        return None
    return METRICS[rule.metric](rule, now, target)
