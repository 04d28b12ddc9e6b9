"""Run the collaboration query benchmark, optionally before and after the indexes.

Each query runs with parameters drawn from the data; every iteration runs
once under EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON), which gives the server's
execution time, buffers and plan, and once plainly, timed by the client for
the round trip. Which indexes were used, and whether a table was read
sequentially, comes from the plans and from the transaction's own statistics
counters (pg_stat_get_xact_numscans), which also see inside SQL functions,
whose plans EXPLAIN does not show.

The comparison runs in one transaction: measure, DROP the six performance
indexes and switch the activity rollup off (get_organization_analytics then
scans raw rows), measure again with the same parameters, ROLLBACK. DROP INDEX takes
an ACCESS EXCLUSIVE lock on the tables until the rollback, so it is only for
development databases (see safety.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from django.db import DatabaseError, connection, transaction

from perfconsole.collaboration.demo import SCALES
from perfconsole.collaboration.models import COLLABORATION_TABLES
from perfconsole.collaboration.performance import INDEXES

from . import parameters, plans
from .queries import BenchmarkQuery
from .results import Figures, QueryEntry, RunFacts, RunResult

VIEWED = COLLABORATION_TABLES + ["team_productivity_analytics"]
# Makes get_organization_analytics scan raw rows, as before the rollup.
ROLLUP_OFF = "UPDATE organization_activity_rollup_state SET covered_until = NULL"
# The settings that change plans and timings, stored with every run.
RELEVANT_SETTINGS = [
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "random_page_cost",
    "effective_io_concurrency",
    "max_parallel_workers_per_gather",
    "jit",
    "default_statistics_target",
    "track_io_timing",
]
# One statement of the "without indexes" phase may not take longer than this,
# and a query stops being measured there after this many timeouts.
WITHOUT_TIMEOUT_MS = 10_000
MAX_TIMEOUTS = 3
PERFORMANCE_INDEXES = {spec.name for spec in INDEXES}


@dataclass
class Measurement:
    """The figures of one query in one phase."""

    server_ms: list = field(default_factory=list)
    # The server time of each call by where its parameters came from.
    by_group: dict = field(default_factory=dict)
    planning_ms: list = field(default_factory=list)
    client_ms: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    hit: int = 0
    read: int = 0
    indexes: list = field(default_factory=list)
    seq_scans: list = field(default_factory=list)
    # Sequential scans of the collaboration tables counted by the server.
    seq_scan_count: int = 0
    timeouts: int = 0
    plan: dict | None = None

    def figures(self) -> Figures:
        """Return the summary stored and printed for this measurement."""
        server = plans.summary(self.server_ms)
        client = plans.summary(self.client_ms)
        calls = max(1, len(self.server_ms))
        return Figures(
            p50_ms=server["p50"],
            p95_ms=server["p95"],
            p99_ms=server["p99"],
            max_ms=server["max"],
            mean_ms=server["mean"],
            planning_p50_ms=plans.summary(self.planning_ms)["p50"],
            client_p50_ms=client["p50"],
            client_p95_ms=client["p95"],
            client_p99_ms=client["p99"],
            rows=round(sum(self.rows) / calls, 1) if self.rows else 0,
            buffers_hit=round(self.hit / calls, 1),
            buffers_read=round(self.read / calls, 1),
            indexes=self.indexes,
            seq_scan=bool(self.seq_scans),
            seq_scan_relations=self.seq_scans,
            seq_scan_count=self.seq_scan_count,
            p95_large_ms=plans.summary(self.by_group.get("large", []))["p95"],
            p95_small_ms=plans.summary(self.by_group.get("small", []))["p95"],
            timeouts=self.timeouts,
            iterations=len(self.server_ms),
            plan=self.plan,
        )


def scan_counters(cursor) -> dict:
    """Return this transaction's scan counts per collaboration table and index.

    Keys are ("seq", table) for sequential scans and ("index", name) for
    index scans; the counters include scans made inside functions.
    """
    cursor.execute(
        "SELECT 'seq', c.relname, pg_stat_get_xact_numscans(c.oid)"
        "  FROM pg_class AS c"
        " WHERE c.oid IN (SELECT to_regclass(t) FROM unnest(%s::text[]) AS t)"
        " UNION ALL "
        "SELECT 'index', i.relname, pg_stat_get_xact_numscans(i.oid)"
        "  FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid"
        " WHERE x.indrelid IN (SELECT to_regclass(t) FROM unnest(%s::text[]) AS t)",
        [VIEWED, VIEWED],
    )
    return {(kind, name): count for kind, name, count in cursor.fetchall()}


def scans_between(before: dict, after: dict) -> tuple[list, list]:
    """Return (indexes scanned, tables seq-scanned) between two snapshots."""
    grown = [key for key, count in after.items() if count > before.get(key, 0)]
    indexes = sorted(name for kind, name in grown if kind == "index")
    tables = sorted(name for kind, name in grown if kind == "seq")
    return indexes, tables


def explain(cursor, query: BenchmarkQuery, params: dict) -> dict:
    """Run the query under EXPLAIN ANALYZE and return its JSON plan document."""
    cursor.execute(
        f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query.sql}",
        parameters.sql_params(params),
    )
    document = cursor.fetchone()[0]
    if isinstance(document, str):
        document = json.loads(document)
    return document[0]


def run_plain(cursor, query: BenchmarkQuery, params: dict) -> tuple[float, int]:
    """Run the query as a client would; return (round trip ms, rows)."""
    started = time.perf_counter()
    cursor.execute(query.sql, parameters.sql_params(params))
    rows = len(cursor.fetchall())
    return (time.perf_counter() - started) * 1000, rows


def measure(
    cursor,
    query: BenchmarkQuery,
    param_list: list[dict],
    *,
    warmup: int,
    client: bool = True,
    timeout_ms: int | None = None,
) -> Measurement:
    """Measure one query over the parameter list, after `warmup` passes over it.

    With a timeout, a call that exceeds it counts as the timeout, and after
    MAX_TIMEOUTS of them the remaining calls are skipped (said in the result).
    """
    result = Measurement()
    for _ in range(warmup):
        for params in param_list:
            run_plain(cursor, query, params)
    before = scan_counters(cursor)
    nested = False
    for params in param_list:
        if result.timeouts >= MAX_TIMEOUTS:
            break
        document = explain_within(cursor, query, params, timeout_ms)
        if document is None:
            result.timeouts += 1
            result.server_ms.append(float(timeout_ms))
            continue
        plan = document["Plan"]
        result.server_ms.append(document["Execution Time"])
        group = result.by_group.setdefault(params.get("_group", "small"), [])
        group.append(document["Execution Time"])
        result.planning_ms.append(document.get("Planning Time", 0.0))
        hit, read = plans.buffers(plan)
        result.hit += hit
        result.read += read
        add_new(result.indexes, plans.indexes_used(plan))
        add_new(result.seq_scans, plans.seq_scanned(plan))
        nested = nested or plans.calls_function(plan)
        result.plan = document
        if client:
            elapsed, rows = run_plain(cursor, query, params)
            result.client_ms.append(elapsed)
            result.rows.append(rows)
        else:
            result.rows.append(plan.get("Actual Rows", 0))
    after_counters = scan_counters(cursor)
    nested_indexes, nested_tables = scans_between(before, after_counters)
    result.seq_scan_count = sum(
        count - before.get(key, 0)
        for key, count in after_counters.items()
        if key[0] == "seq"
    )
    # Sequential scans only happen in execution: always trust the counters.
    add_new(result.seq_scans, nested_tables)
    # Index counters also count the planner's probes of index endpoints, so
    # they are only used where the plan cannot show them: inside functions.
    if nested:
        add_new(result.indexes, nested_indexes)
    return result


def add_new(names: list, more: list) -> None:
    """Append the names not yet in the list, keeping the order."""
    names += [name for name in more if name not in names]


def explain_within(cursor, query, params, timeout_ms) -> dict | None:
    """EXPLAIN ANALYZE the query; with a timeout, None when it ran out."""
    if not timeout_ms:
        return explain(cursor, query, params)
    try:
        with transaction.atomic():
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)",
                [f"{timeout_ms}ms"],
            )
            return explain(cursor, query, params)
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) != "57014":
            raise
        return None


def indexes_to_drop(cursor, bare: bool) -> list[str]:
    """Return the DROP statements of the comparison's "without" phase.

    The six performance indexes always; with `bare`, also every other
    secondary index and unique constraint of the collaboration tables, so
    the planner cannot fall back on them and the baseline is primary keys
    only.
    """
    statements = [spec.drop_sql() for spec in INDEXES]
    if not bare:
        return statements
    names = {spec.name for spec in INDEXES}
    cursor.execute(
        "SELECT t.relname, i.relname, con.conname"
        "  FROM pg_index AS x"
        "  JOIN pg_class AS i ON i.oid = x.indexrelid"
        "  JOIN pg_class AS t ON t.oid = x.indrelid"
        "  LEFT JOIN pg_constraint AS con ON con.conindid = x.indexrelid"
        "       AND con.contype IN ('u', 'x')"
        " WHERE x.indrelid IN (SELECT to_regclass(n) FROM unnest(%s::text[]) AS n)"
        "   AND NOT x.indisprimary"
        " ORDER BY 1, 2",
        [COLLABORATION_TABLES],
    )
    for table, index, constraint in cursor.fetchall():
        if index in names:
            continue
        if constraint:
            statements.append(f'ALTER TABLE "{table}" DROP CONSTRAINT "{constraint}"')
        else:
            statements.append(f'DROP INDEX "{index}"')
    return statements


def server_facts(cursor) -> dict:
    """Return the server version, the relevant settings and table sizes."""
    cursor.execute("SELECT current_setting('server_version'), current_database()")
    version, database = cursor.fetchone()
    cursor.execute(
        "SELECT name, setting || coalesce(' ' || unit, '') FROM pg_settings"
        " WHERE name = ANY(%s) ORDER BY name",
        [RELEVANT_SETTINGS],
    )
    settings_now = dict(cursor.fetchall())
    # Planner estimates, not COUNT(*): these tables hold millions of rows.
    cursor.execute(
        "SELECT relname, greatest(reltuples, 0)::bigint FROM pg_class"
        " WHERE oid IN (SELECT to_regclass(t) FROM unnest(%s::text[]) AS t)",
        [COLLABORATION_TABLES],
    )
    row_counts = dict(cursor.fetchall())
    # Whether get_organization_analytics could read the activity rollup.
    cursor.execute(
        "SELECT covered_until,"
        "       (SELECT count(*) FROM organization_activity_rollup_dirty)"
        "  FROM organization_activity_rollup_state"
    )
    covered, dirty = cursor.fetchone()
    return {
        "server_version": version,
        "server_version_num": connection.pg_version,
        "database": database,
        "settings": settings_now,
        "row_counts": row_counts,
        "rollup_covered_until": covered.isoformat() if covered else None,
        "rollup_dirty_marks": dirty,
    }


def detect_scale(row_counts: dict) -> str:
    """Return the demo scale whose activity row count is nearest the data's."""
    activity = max(1, row_counts.get("collaboration_activity", 0))

    def distance(name):
        expected = SCALES[name].activity
        return abs(activity - expected) / expected

    return min(SCALES, key=distance)


@dataclass
class QueryResult:
    query: BenchmarkQuery
    with_indexes: Measurement
    without_indexes: Measurement | None = None

    def entry(self) -> QueryEntry:
        """Return the query's typed entry of the run's result."""
        figures = self.with_indexes.figures()
        entry = QueryEntry(
            name=self.query.name,
            label=self.query.label,
            sql=self.query.sql,
            figures=figures,
            uses_performance_indexes=bool(PERFORMANCE_INDEXES & set(figures.indexes)),
        )
        if self.without_indexes is not None:
            entry.without = self.without_indexes.figures()
            # Reductions on the same calls: a phase cut short by timeouts is
            # compared with the same first calls of the other.
            calls = len(self.without_indexes.server_ms)
            before = plans.summary(self.without_indexes.server_ms)
            after = plans.summary(self.with_indexes.server_ms[:calls])
            entry.reduction_p50_pct = plans.reduction(before["p50"], after["p50"])
            entry.reduction_p95_pct = plans.reduction(before["p95"], after["p95"])
        return entry


@dataclass
class Benchmark:
    iterations: int = 20
    warmup: int = 1
    without_timeout_ms: int = WITHOUT_TIMEOUT_MS
    seed: int = 1
    compare: bool = False
    bare: bool = False
    queries: list = field(default_factory=list)
    progress: object = None

    def say(self, text: str) -> None:
        if self.progress:
            self.progress(text)

    def run(self) -> RunResult:
        """Run the benchmark and return its result (run facts + queries)."""
        started = time.time()
        with transaction.atomic():
            with connection.cursor() as cursor:
                facts = server_facts(cursor)
                pools = parameters.load_pools(cursor, self.seed)
                if pools.empty():
                    raise ValueError(
                        "no collaboration data to benchmark: run "
                        "`manage.py seeddemo --scale small` first"
                    )
                param_lists = {
                    query.name: parameters.draw(
                        query.params, pools, self.iterations, self.seed
                    )
                    for query in self.queries
                }
                results = [
                    QueryResult(query, self._measure(cursor, query, param_lists))
                    for query in self.queries
                ]
                dropped = []
                if self.compare:
                    dropped = self._without(cursor, results, param_lists)
            # Nothing of the benchmark is kept in the database: undo the drops.
            transaction.set_rollback(True)
        facts = RunFacts(
            **facts,
            started_at=started,
            duration_s=round(time.time() - started, 1),
            scale=detect_scale(facts["row_counts"]),
            iterations=self.iterations,
            warmup=self.warmup,
            seed=self.seed,
            compare=self.compare,
            bare=self.bare,
            without_timeout_ms=self.without_timeout_ms,
            dropped=dropped,
        )
        return RunResult(facts, [result.entry() for result in results])

    def _measure(self, cursor, query, param_lists) -> Measurement:
        self.say(f"measuring {query.name} ({self.iterations} iterations)")
        return measure(cursor, query, param_lists[query.name], warmup=self.warmup)

    def _without(self, cursor, results, param_lists) -> list[str]:
        """Drop the indexes, switch the rollup off (in this transaction), measure."""
        statements = [*indexes_to_drop(cursor, self.bare), ROLLUP_OFF]
        cursor.execute("SELECT set_config('lock_timeout', '5s', true)")
        for statement in statements:
            self.say(statement)
            cursor.execute(statement)
        for result in results:
            self.say(f"measuring {result.query.name} without the indexes")
            result.without_indexes = measure(
                cursor,
                result.query,
                param_lists[result.query.name],
                warmup=0,
                client=False,
                timeout_ms=self.without_timeout_ms,
            )
        return statements
