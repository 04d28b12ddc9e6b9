"""Build the analyzer report from health checks, statistics and settings."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from perfconsole.benchmarks.models import BenchmarkRun
from perfconsole.benchmarks.results import query_verdicts
from perfconsole.collaboration.models import COLLABORATION_TABLES
from perfconsole.core import formatting
from perfconsole.core.db import (
    QUERY_TAG,
    StatisticsUnavailable,
    fetch_dicts,
    reading_statistics,
)
from perfconsole.core.targets import (
    CACHE_HIT,
    INDEX_USAGE,
    SEQ_SCAN_REDUCTION,
    SLOW_QUERY_MS,
)
from perfconsole.health.checks import stats_reset_time
from perfconsole.health.registry import (
    checked_alias,
    checked_database,
    checking,
    get_check,
)
from perfconsole.health.thresholds import thresholds
from perfconsole.history import recent
from perfconsole.history.models import query_stat_id
from perfconsole.history.windows import statement_totals
from perfconsole.monitoring.models import QueryStat, TablePerformance
from perfconsole.monitoring.targetviews import reading_views

from . import catalog
from .findings import CRITICAL, INFO, WARNING, Finding, Report, TargetCheck, prioritize
from .health import health_findings, settings_findings
from .suggestions import suggest_indexes

# A slow statement is critical at the seed's definition of slow (core/targets.py).
CRITICAL_QUERY_MS = SLOW_QUERY_MS
# The analyzer judges the last day of the statistics history by default.
DEFAULT_WINDOW_HOURS = 24


@dataclass
class Options:
    """Thresholds of one analyzer run; defaults come from settings.

    Health checks keep their own thresholds (HEALTH_THRESHOLDS); index
    suggestions only look at tables as large as the missing-index check's.
    """

    slow_query_ms: float
    slow_query_calls: int
    min_table_rows: int
    max_queries: int
    trial_indexes: bool
    window_hours: int = DEFAULT_WINDOW_HOURS

    @classmethod
    def from_settings(cls, **overrides):
        """Return options from settings, with the overrides that are not None."""
        values = {
            "slow_query_ms": settings.MONITORING_SLOW_QUERY_MS,
            "slow_query_calls": settings.MONITORING_SLOW_QUERY_CALLS,
            "min_table_rows": thresholds()["missing_index_min_rows"],
            "max_queries": settings.ANALYZER_MAX_QUERIES,
            "trial_indexes": settings.ANALYZER_TRIAL_INDEXES,
            "window_hours": DEFAULT_WINDOW_HOURS,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def build_report(options=None, scope=None):
    """Run every analysis and return the prioritized report.

    A part that cannot run (timeout, missing grant) adds a note instead of
    failing the whole report. scope (history.scoping.Scope): the monitored
    database analyzed, the console's own when None.
    """
    if scope is None or scope.is_console:
        return analyze(options or Options.from_settings())
    with checking(scope.alias, scope.other_target):
        return analyze(options or Options.from_settings())


def analyze(options):
    """Build the report of the database being checked (registry.checking)."""
    target = checked_database()
    server = fetch_dicts(
        "SELECT current_database() AS database, current_setting('server_version')"
        " AS version",
        using=checked_alias(),
    )[0]
    report = Report(
        generated_at=timezone.now(),
        database=server["database"],
        server_version=server["version"],
    )
    minutes = options.window_hours * 60
    windows = {
        source: recent.covering(minutes, report.generated_at, source, target)
        for source in ("statement", "database")
    }
    report.window = window_words(windows, minutes)
    findings = []
    for part, analysis in (
        ("health checks", lambda: health_findings(report.notes)),
        (
            "slow queries and index suggestions",
            lambda: _query_findings(options, report, windows["statement"]),
        ),
        ("settings review", settings_findings),
    ):
        try:
            findings.extend(analysis())
        except StatisticsUnavailable as error:
            report.notes.append(f"{part}: {error}")
    if windows["database"] is not None:
        findings = judge_cache_over(windows["database"], findings)
    _point_missing_indexes_at_suggestions(findings)
    report.findings = prioritize(findings)
    if target is not None:
        report.notes.append(
            "The seed's targets and the benchmarks concern the console's own "
            f"database, not {target.name}: left out."
        )
        return report
    try:
        report.targets = index_efficiency_targets(windows["database"])
    except StatisticsUnavailable as error:
        report.notes.append(f"index efficiency targets: {error}")
    try:
        report.benchmark_run, report.benchmark = latest_benchmark()
    except StatisticsUnavailable as error:
        if not _is_missing_table(error):
            report.notes.append(f"latest benchmark: {error}")
    return report


# Statements an index or a rewrite can speed up; COPY, CREATE INDEX, VACUUM
# and other utility statements are slow by nature and left out.
DML = r"^\s*(/\*([^*]|\*+[^*/])*\*+/\s*)*(select|insert|update|delete|with|merge)[\s(]"


def window_words(windows, minutes):
    """Return over which window the report reads statements and cache hits."""
    if all(window is not None for window in windows.values()):
        return recent.last(minutes)
    if not any(windows.values()):
        return "lifetime counters: no statistics history yet"
    history = ", ".join(k for k, w in windows.items() if w is not None)
    return f"{recent.last(minutes)} for {history}; lifetime counters for the rest"


def judge_cache_over(window, findings):
    """Judge the cache hit rate over the window, not the lifetime counters.

    Lifetime counters keep the cold reads of a load or of a benchmark long
    past: the health check's finding is replaced by the window's verdict on
    the database's blocks (no finding when the window's rate is fine).
    """
    hits = catalog.window_cache_hit(window)
    kept = [f for f in findings if f.check != "cache_hit_rate"]
    if hits.pct is None:
        return kept
    limits = thresholds()
    if hits.pct >= limits["cache_hit_rate_warning"]:
        return kept
    lifetime = next((f for f in findings if f.check == "cache_hit_rate"), None)
    critical = hits.pct < limits["cache_hit_rate_critical"]
    check = get_check("cache_hit_rate")
    return [
        *kept,
        Finding(
            check="cache_hit_rate",
            severity=CRITICAL if critical else WARNING,
            subject="database",
            title=f"Cache hit rate {hits.pct} % {window.words}",
            evidence={
                "blks_hit": hits.hit,
                "blks_read": hits.read,
                "hit_rate_pct": hits.pct,
                "window": window.words,
            },
            impact=check.impact,
            recommendation=check.recommendation,
            fix_sql=lifetime.fix_sql if lifetime else "",
            weight=float(hits.read),
        ),
    ]


def slow_queries(options, window=None):
    """Return the slowest top-level DML statements by total time, as dicts.

    Over the window of the statistics history when given, else over the
    lifetime counters of pg_stat_statements.
    """
    if window is not None:
        return window_slow_queries(options, window)
    with reading_views(checked_alias()):
        return list(
            QueryStat.objects.using(checked_alias())
            .filter(
                toplevel=True,
                calls__gte=options.slow_query_calls,
                mean_time_ms__gte=options.slow_query_ms,
                query__iregex=DML,
            )
            .order_by("-total_time_ms")
            .values(
                "id",
                "queryid",
                "query",
                "calls",
                "rows",
                "total_time_ms",
                "mean_time_ms",
                "cache_hit_ratio",
                "share_of_total",
            )[: options.max_queries]
        )


def window_slow_queries(options, window):
    """Return slow_queries()' rows from the statistics history of a window."""
    dml = re.compile(DML, re.IGNORECASE)
    rows = [
        row
        for row in statement_totals(window.database, window.start, window.end)
        if QUERY_TAG not in row["query"]
    ]
    everything = sum(row["total_time"] for row in rows)
    slow = [
        row
        for row in rows
        if row["toplevel"]
        and row["calls"] >= options.slow_query_calls
        and (row["mean_time"] or 0) >= options.slow_query_ms
        and dml.search(row["query"])
    ]
    return [
        {
            "id": query_stat_id(row["queryid"], row["userid"], row["toplevel"]),
            "queryid": row["queryid"],
            "query": row["query"],
            "calls": int(row["calls"]),
            "rows": int(row["rows"]),
            "total_time_ms": row["total_time"],
            "mean_time_ms": row["mean_time"],
            "cache_hit_ratio": hit_pct(row),
            "share_of_total": round(100 * row["total_time"] / everything, 2)
            if everything
            else None,
        }
        for row in slow[: options.max_queries]
    ]


def hit_pct(row):
    """Return a statement's share of blocks found in shared buffers, in %."""
    hit, read = row["shared_blks_hit"], row["shared_blks_read"]
    return round(100 * hit / (hit + read), 2) if hit + read else None


def _query_findings(options, report, window=None):
    queries = slow_queries(options, window)
    rows = [{**query, "mean_ms": query["mean_time_ms"]} for query in queries]
    suggestions, skipped = suggest_indexes(
        rows, min_rows=options.min_table_rows, trial_indexes=options.trial_indexes
    )
    by_query = {}
    for suggestion in suggestions:
        by_query.setdefault(suggestion.queryid, []).append(suggestion)
    findings = [
        _slow_query_finding(
            query, by_query.get(query["queryid"], []), dict(skipped).get(query["query"])
        )
        for query in queries
    ]
    seen = set()
    for suggestion in suggestions:
        key = (suggestion.table, tuple(suggestion.columns))
        if key not in seen:
            seen.add(key)
            findings.append(_suggestion_finding(suggestion))
    if suggestions and not any(s.method != "not checked" for s in suggestions):
        report.notes.append(
            "Index suggestions were not checked against the planner's costs: "
            "HypoPG is not installed and trial indexes are off here (they "
            "lock the table while built). Run `python manage.py analyzedb "
            "--trial-indexes` on a development copy to check them."
        )
    return findings


def _slow_query_finding(query, suggestions, no_suggestion_because):
    mean = query["mean_time_ms"]
    subject = f"query {query['queryid']}"
    if suggestions:
        recommendation = (
            "Index "
            + "; ".join(f"{s.table} on ({', '.join(s.columns)})" for s in suggestions)
            + "."
        )
        fix_sql = "\n".join(s.create_sql() for s in suggestions)
    else:
        recommendation = (
            "Read its plan with EXPLAIN (ANALYZE, BUFFERS) and index or rewrite "
            "what it scans."
        )
        fix_sql = ""
    return Finding(
        check="slow_query",
        severity=CRITICAL if mean >= CRITICAL_QUERY_MS else WARNING,
        subject=subject,
        title=f"Query {query['queryid']} takes {formatting.duration(mean)} on average",
        evidence={
            "query": query["query"][:1000],
            "statement_id": query["id"],
            "calls": query["calls"],
            "mean_ms": round(mean, 3),
            "total_ms": round(query["total_time_ms"], 1),
            "share_of_total_pct": query["share_of_total"],
            "rows": query["rows"],
            "cache_hit_pct": query["cache_hit_ratio"],
            "index_suggestion": ", ".join(s.index_name for s in suggestions)
            or f"none: {no_suggestion_because or 'not analyzed'}",
        },
        impact=(
            f"{formatting.duration(query['total_time_ms'])} of database time over "
            f"{query['calls']:,} calls"
            + (
                f" ({query['share_of_total']:.1f} % of this database's total)."
                if query["share_of_total"] is not None
                else "."
            )
        ),
        recommendation=recommendation,
        fix_sql=fix_sql,
        weight=query["total_time_ms"],
    )


def _suggestion_finding(suggestion):
    evidence = {
        "columns": suggestion.columns,
        "estimated_rows": suggestion.estimated_rows,
        "query": suggestion.query[:1000],
        "query_mean_ms": round(suggestion.mean_ms, 3),
        "query_calls": suggestion.calls,
        "checked_with": suggestion.method,
        "cost_before": suggestion.cost_before,
        "cost_after": suggestion.cost_after,
    }
    if suggestion.trial_build_ms is not None:
        evidence["trial_build_ms"] = suggestion.trial_build_ms
    if suggestion.saving is not None:
        impact = (
            f"The planner's estimated cost falls from {suggestion.cost_before:,.0f} "
            f"to {suggestion.cost_after:,.0f} ({suggestion.saving:.0%} less) for a "
            f"query called {suggestion.calls:,} times."
        )
        evidence["cost_saving_pct"] = round(100 * suggestion.saving, 1)
    else:
        impact = (
            f"A query called {suggestion.calls:,} times scans "
            f"{suggestion.estimated_rows:,} rows of {suggestion.table}; not yet "
            "checked against the planner's costs."
        )
    return Finding(
        check="index_suggestion",
        severity=WARNING if suggestion.confirmed else INFO,
        # Unquoted, like the health checks' subjects, so the two can meet.
        subject=f"{suggestion.schema}.{suggestion.table_name}",
        title=(f"Index {suggestion.table} on ({', '.join(suggestion.columns)})"),
        evidence=evidence,
        impact=impact,
        recommendation=(
            "Create the index concurrently (it does not block writes); run it "
            "outside a transaction."
        ),
        fix_sql=suggestion.create_sql(),
        weight=suggestion.mean_ms * suggestion.calls,
    )


def _point_missing_indexes_at_suggestions(findings):
    """Give a missing-index finding the exact index suggested for its table."""
    suggested = {f.subject: f for f in findings if f.check == "index_suggestion"}
    for finding in findings:
        suggestion = suggested.get(finding.subject)
        if finding.check == "missing_indexes" and suggestion is not None:
            finding.fix_sql = suggestion.fix_sql
            finding.recommendation = f"{suggestion.title}: {suggestion.impact}"


def index_efficiency_targets(window=None):
    """Return the seed's index efficiency targets as met, missed or unmeasured.

    The targets are perfconsole.core.targets' INDEX_USAGE, CACHE_HIT and
    SEQ_SCAN_REDUCTION; index usage and the cache hit rate over the window
    when given.
    """
    return [
        _collaboration_index_usage(window),
        _window_cache_hit_target(window) if window else _cache_hit_target(),
        _seq_scan_reduction_target(),
    ]


def _seq_scan_reduction_target():
    try:
        with reading_statistics():
            run = (
                BenchmarkRun.objects.filter(compare=True)
                .order_by("-started_at")
                .prefetch_related("results")
                .first()
            )
            return _seq_scan_reduction(run)
    except StatisticsUnavailable as error:
        if not _is_missing_table(error):
            raise
        return _seq_scan_reduction(None)


def _is_missing_table(error):
    """Return True if the error is a missing table (benchmarks not migrated)."""
    cause = error.__cause__
    while cause is not None and getattr(cause, "sqlstate", None) is None:
        cause = cause.__cause__
    return getattr(cause, "sqlstate", None) == "42P01"


def _seq_scan_reduction(run):
    """Compare sequential scans without and with the indexes in one run.

    The benchmark's own verdict (RunResult.seq_scan_reduction), on the
    stored run: the same count and the same target.
    """
    name = "Sequential scan reduction"
    target = f"{SEQ_SCAN_REDUCTION} over the benchmark queries"
    if run is None:
        return TargetCheck(
            name,
            target,
            "not measured",
            None,
            "No comparison yet: run `python manage.py benchmark --compare`.",
        )
    result = run.result()
    scans = result.seq_scan_reduction()
    when = formatting.timestamp(run.started_at)
    where = f"benchmark --compare of {when}, {run.scale}"
    if scans is None or scans.met is None:
        return TargetCheck(
            name,
            target,
            "not measured",
            None,
            f"No query scanned a table sequentially even without the indexes "
            f"({where}).",
        )
    return TargetCheck(
        name=name,
        target=target,
        measured=f"{scans.pct:.0f} % ({scans.without} → {scans.with_indexes} "
        "sequential scans)",
        met=scans.met,
        detail=f"{len(result.queries)} queries, {where}",
    )


def latest_benchmark():
    """Return (description, checks) of the latest benchmark run's goals.

    Each query is judged as the benchmark judges it (benchmarks.results,
    goals from perfconsole.core.targets): the p95 goal leads, the detail
    gives the seed's target and the query's other verdicts.
    """
    with reading_statistics():
        run = BenchmarkRun.objects.order_by("-started_at").first()
        if run is None:
            return "", []
        result = run.result()
    description = (
        f"{formatting.timestamp(run.started_at)}, scale {run.scale}, PostgreSQL "
        f"{run.server_version}, {run.iterations} iterations"
        + (" with --compare" if run.compare else "")
    )
    checks = []
    for entry in result.queries:
        figures = entry.figures
        first, *others = query_verdicts(entry)
        detail = (
            f"seed target < {entry.goal.seed_ms:g} ms: "
            f"{'pass' if entry.passed else 'FAIL'}; "
            f"p50 {formatting.duration(figures.p50_ms)}, "
            f"p99 {formatting.duration(figures.p99_ms)}"
        )
        if entry.without is not None:
            without = formatting.duration(entry.without.p95_ms)
            detail += f"; without the indexes p95 {without}"
        detail += "".join(
            f"; {verdict.goal}: {verdict.value} ({_status(verdict.met)})"
            for verdict in others
        )
        if figures.seq_scan:
            detail += f"; seq scan on {', '.join(figures.seq_scan_relations)}"
        checks.append(
            TargetCheck(
                name=entry.label,
                target=f"p95 ≤ {entry.goal.goal_p95_ms:g} ms",
                measured=f"p95 {formatting.duration(figures.p95_ms)}",
                met=first.met,
                detail=detail,
            )
        )
    return description, checks


def _status(met):
    return {True: "met", False: "missed", None: "n/a"}[met]


def _collaboration_index_usage(window=None):
    """Judge index usage on the collaboration tables' scans.

    Over the window of the statistics history when given, else over the
    lifetime counters.
    """
    with reading_statistics():
        tables = list(
            TablePerformance.objects.filter(table_name__in=COLLABORATION_TABLES).values(
                "schema_name", "table_name", "seq_scan", "idx_scan"
            )
        )
    if window is None:
        counted = tables
        unscanned = "The collaboration tables are missing or have not been read yet."
    else:
        counted = window_scans(tables, window)
        unscanned = (
            f"The collaboration tables were not scanned {window.words}."
            if tables
            else "The collaboration tables are missing."
        )
    ratios = {
        f"{t['schema_name']}.{t['table_name']}": 100.0
        * t["idx_scan"]
        / (t["seq_scan"] + t["idx_scan"])
        for t in counted
        if t["seq_scan"] + t["idx_scan"] > 0
    }
    name, target = "Index usage ratio", f"{INDEX_USAGE} on collaboration tables"
    if not ratios:
        return TargetCheck(name, target, "not measured", None, unscanned)
    since = (
        _lifetime_since() if window is None else f"{window.words} (statistics history)"
    )
    lowest = min(ratios, key=ratios.get)
    per_table = "; ".join(f"{table} {ratio:.1f} %" for table, ratio in ratios.items())
    return TargetCheck(
        name=name,
        target=target,
        measured=f"lowest {ratios[lowest]:.1f} % ({lowest})",
        met=all(INDEX_USAGE.met(ratio) for ratio in ratios.values()),
        detail=f"{per_table}; {since}",
    )


def _lifetime_since():
    """Return since when the lifetime scan counters count."""
    reset = stats_reset_time()
    # Index builds and bulk loads count as sequential scans too, so the ratio
    # speaks of the workload only when counted from a reset after them.
    if reset:
        return f"counted since the statistics reset of {formatting.timestamp(reset)}"
    return (
        "counted since statistics began (index builds and loads included; "
        "SELECT pg_stat_reset() before a workload to measure it alone)"
    )


def window_scans(tables, window):
    """Return the tables with their scans in a window of the statistics history."""
    scans = recent.table_scans(window)
    counted = []
    for table in tables:
        key = catalog.qualified_name(table["schema_name"], table["table_name"])
        counters = scans.get(key, {})
        counted.append(
            {
                **table,
                "seq_scan": int(counters.get("seq_scan", 0)),
                "idx_scan": int(counters.get("idx_scan", 0)),
            }
        )
    return counted


def _cache_hit_target():
    tables, indexes, blocks = catalog.cache_hit()
    name = "Cache hit rate"
    target = f"{CACHE_HIT} (tables and indexes)"
    known = [rate for rate in (tables, indexes) if rate is not None]
    if not known:
        return TargetCheck(name, target, "not measured", None, "No block read yet.")
    shown = [
        f"{label} {100 * rate:.2f} %" if rate is not None else f"{label} –"
        for label, rate in (("tables", tables), ("indexes", indexes))
    ]
    return TargetCheck(
        name=name,
        target=target,
        measured=", ".join(shown),
        met=all(CACHE_HIT.met(100 * rate) for rate in known),
        detail=f"over {blocks:,} block requests",
    )


def _window_cache_hit_target(window):
    hits = catalog.window_cache_hit(window)
    name = "Cache hit rate"
    target = f"{CACHE_HIT} (the database's blocks, {window.words})"
    if hits.pct is None:
        return TargetCheck(
            name, target, "not measured", None, f"No block read {window.words}."
        )
    return TargetCheck(
        name=name,
        target=target,
        measured=f"database {hits.pct:.2f} %",
        met=CACHE_HIT.met(hits.pct),
        detail=f"{hits.hit + hits.read:,} block requests {window.words} "
        "(statistics history)",
    )
