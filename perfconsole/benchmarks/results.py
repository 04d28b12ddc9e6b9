"""A benchmark run's result, typed, and its verdicts on the targets.

The runner builds a RunResult; the text report, the --json file, the stored
BenchmarkRun and the analyzer report all read one, and judge it with the
goals of perfconsole.core.targets through the methods here (stored runs come
back as a RunResult through RunResult.from_stored).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from perfconsole.core.targets import (
    QUERY_GOALS,
    SEED_TIME_REDUCTION,
    SEQ_SCAN_REDUCTION,
    TIME_REDUCTION_GOAL,
    QueryGoal,
)

from . import plans


@dataclass
class Figures:
    """The figures of one query in one phase (with or without the indexes)."""

    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    mean_ms: float = 0.0
    planning_p50_ms: float = 0.0
    client_p50_ms: float = 0.0
    client_p95_ms: float = 0.0
    client_p99_ms: float = 0.0
    rows: float = 0
    buffers_hit: float = 0.0
    buffers_read: float = 0.0
    indexes: list = field(default_factory=list)
    seq_scan: bool = False
    seq_scan_relations: list = field(default_factory=list)
    # Sequential scans of the collaboration tables counted by the server.
    seq_scan_count: int = 0
    # p95 for parameters from the largest organizations, and the rest.
    p95_large_ms: float | None = None
    p95_small_ms: float | None = None
    timeouts: int = 0
    iterations: int = 0
    plan: dict | None = None

    @classmethod
    def from_dict(cls, data: dict) -> Figures:
        """Return figures from a JSON entry; absent keys keep their defaults."""
        names = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})


@dataclass
class QueryEntry:
    """One query of a run: its figures, and the comparison's when there is one."""

    name: str
    label: str
    sql: str
    figures: Figures
    without: Figures | None = None
    reduction_p50_pct: float | None = None
    reduction_p95_pct: float | None = None
    uses_performance_indexes: bool = False
    # What a stored run was judged against, for a query no longer defined.
    stored_target_ms: float | None = None
    stored_goal_ms: float | None = None

    @property
    def goal(self) -> QueryGoal:
        """Return the query's target and goal from perfconsole.core.targets."""
        if self.name in QUERY_GOALS:
            return QUERY_GOALS[self.name]
        return QueryGoal(
            self.name, self.label, self.stored_target_ms, self.stored_goal_ms
        )

    @property
    def passed(self) -> bool:
        """Return whether the p95 meets the seed's target."""
        return self.goal.passes(self.figures.p95_ms)

    @property
    def goal_met(self) -> bool:
        """Return whether the p95 meets our goal."""
        return self.goal.meets_goal(self.figures.p95_ms)

    def as_dict(self) -> dict:
        """Return the query's entry of the JSON document (flat figures)."""
        entry = {
            "name": self.name,
            "label": self.label,
            "sql": self.sql,
            "target_ms": self.goal.seed_ms,
            "goal_ms": self.goal.goal_p95_ms,
            **asdict(self.figures),
            "passed": self.passed,
            "goal_met": self.goal_met,
        }
        if self.without is not None:
            entry["without"] = asdict(self.without)
            entry["reduction_p50_pct"] = self.reduction_p50_pct
            entry["reduction_p95_pct"] = self.reduction_p95_pct
        entry["uses_performance_indexes"] = self.uses_performance_indexes
        return entry


@dataclass
class RunFacts:
    """Where and how a run was made: server, settings, sizes, options."""

    server_version: str
    server_version_num: int
    database: str
    settings: dict = field(default_factory=dict)
    row_counts: dict = field(default_factory=dict)
    rollup_covered_until: str | None = None
    rollup_dirty_marks: int = 0
    started_at: float = 0.0
    duration_s: float = 0.0
    scale: str = ""
    iterations: int = 0
    warmup: int = 0
    seed: int = 1
    compare: bool = False
    bare: bool = False
    without_timeout_ms: int = 0
    dropped: list = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    """One goal or target, the measured value, and whether it is met."""

    goal: str
    value: str
    # None: not applicable or not measurable on this run.
    met: bool | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ScanReduction:
    """Sequential scans of the collaboration tables without and with the indexes."""

    without: int
    with_indexes: int

    @property
    def pct(self) -> float | None:
        return plans.reduction(self.without, self.with_indexes)

    @property
    def met(self) -> bool | None:
        """Return the seed's verdict; None when nothing scanned sequentially."""
        return SEQ_SCAN_REDUCTION.met(self.pct)


@dataclass
class RunResult:
    """A whole run: its facts and one entry per query measured."""

    run: RunFacts
    queries: list[QueryEntry] = field(default_factory=list)

    @classmethod
    def from_stored(cls, run) -> RunResult:
        """Return a stored BenchmarkRun (with its results) as a RunResult."""
        names = {item.name for item in fields(RunFacts)}
        facts = RunFacts(
            **{name: getattr(run, name) for name in names if hasattr(run, name)}
        )
        facts.started_at = run.started_at.timestamp()
        return cls(facts, [_stored_entry(result) for result in run.results.all()])

    def as_dict(self) -> dict:
        """Return the document the run was always written as."""
        return {
            "run": asdict(self.run),
            "queries": [entry.as_dict() for entry in self.queries],
        }

    def public(self) -> dict:
        """Return the --json document: the run, the queries and the verdicts."""
        return {
            **self.as_dict(),
            "goals": [verdict.as_dict() for verdict in self.verdicts()],
        }

    def seq_scan_reduction(self) -> ScanReduction | None:
        """Return the sequential scans over the compared queries, or None."""
        compared = [entry for entry in self.queries if entry.without is not None]
        if not compared:
            return None
        return ScanReduction(
            without=sum(entry.without.seq_scan_count for entry in compared),
            with_indexes=sum(entry.figures.seq_scan_count for entry in compared),
        )

    def verdicts(self) -> list[Verdict]:
        """Return our goals and the seed's targets as met or missed."""
        verdicts = []
        scans = self.seq_scan_reduction()
        if scans:
            verdicts.append(
                Verdict(
                    f"sequential scans reduced {SEQ_SCAN_REDUCTION} (seed)",
                    f"{scans.without} -> {scans.with_indexes} scans of the "
                    f"collaboration tables: {scans.pct} %",
                    scans.met,
                )
            )
        for entry in self.queries:
            verdicts += query_verdicts(entry)
        return verdicts


def _stored_entry(result) -> QueryEntry:
    """Return one stored BenchmarkResult as a QueryEntry."""
    names = {item.name for item in fields(Figures)}
    # A stored row keeps no per-phase timeouts or iterations: the defaults.
    figures = Figures(
        **{name: getattr(result, name) for name in names if hasattr(result, name)}
    )
    return QueryEntry(
        name=result.name,
        label=result.label,
        sql=result.sql,
        figures=figures,
        without=Figures.from_dict(result.without) if result.without else None,
        reduction_p50_pct=result.reduction_p50_pct,
        reduction_p95_pct=result.reduction_p95_pct,
        uses_performance_indexes=result.uses_performance_indexes,
        stored_target_ms=result.target_ms,
        stored_goal_ms=result.goal_ms,
    )


def query_verdicts(entry: QueryEntry) -> list[Verdict]:
    """Return one query's verdicts: p95, its extra goals, the reduction."""
    goal, figures = entry.goal, entry.figures
    verdicts = [
        Verdict(
            f"{entry.name}: p95 <= {goal.goal_p95_ms:g} ms (ours)",
            f"{figures.p95_ms} ms",
            entry.goal_met,
        )
    ]
    if goal.largest_orgs_p95_ms is not None and figures.p95_large_ms is not None:
        verdicts.append(
            Verdict(
                f"{entry.name}: p95 for the largest organizations <= "
                f"{goal.largest_orgs_p95_ms:g} ms (ours)",
                f"{figures.p95_large_ms} ms",
                figures.p95_large_ms <= goal.largest_orgs_p95_ms,
            )
        )
    if goal.every_call_ms is not None and figures.max_ms:
        verdicts.append(
            Verdict(
                f"{entry.name}: every call < {goal.every_call_ms:g} ms (ours)",
                f"slowest {figures.max_ms} ms",
                figures.max_ms < goal.every_call_ms,
            )
        )
    if entry.without is not None:
        verdicts.append(reduction_verdict(entry))
    return verdicts


def reduction_verdict(entry: QueryEntry) -> Verdict:
    """Return the query-time reduction of a compared query against our goal."""
    goal = (
        f"{entry.name}: reduction >= {TIME_REDUCTION_GOAL.pct:g} %"
        f" (ours; seed {SEED_TIME_REDUCTION.pct:g} %)"
    )
    value = entry.reduction_p50_pct
    figures = f"{value} % (p50), {entry.reduction_p95_pct} % (p95)"
    if not entry.uses_performance_indexes:
        # The view has its own index: the six indexes cannot speed it up.
        return Verdict(
            goal,
            f"not applicable, its plan uses none of the performance indexes "
            f"({figures})",
            None,
        )
    return Verdict(goal, figures, bool(TIME_REDUCTION_GOAL.met(value)))
