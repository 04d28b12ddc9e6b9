"""Measure how the queries' cost grows: across data scales and organization sizes.

Each scale is a database of demo data on the console's own server (they
share its buffer cache), opened under a database alias of its own. In each,
every query is measured with the runner's timing (runner.explain: EXPLAIN
ANALYZE's execution time, rows, buffers) for the benchmark's usual mix of
parameters ("all") and for parameters drawn from each organization-size
bucket, whose median size is recorded. The calls of one query go round the
scales and groups one at a time, so a burst of load on the shared machine
slows every scale alike. Each database's work runs in a transaction that is
rolled back, as in `benchmark`.
"""

from __future__ import annotations

import copy
import random
import re
import statistics
from contextlib import ExitStack
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.utils import ConnectionDoesNotExist, load_backend

from perfconsole.collaboration.models import COLLABORATION_TABLES

from . import parameters, plans, runner
from .queries import BenchmarkQuery

# Organization-size buckets by members: (name, lowest, highest or None).
BUCKETS = [
    ("1-9", 1, 9),
    ("10-99", 10, 99),
    ("100-999", 100, 999),
    ("1k-9k", 1_000, 9_999),
    ("10k+", 10_000, None),
]
ALL = "all"
# The queries whose result grows with the work (unbounded SQL functions);
# every other query is an index lookup with a bounded result.
FUNCTIONS = {"team_analytics_function", "user_collaborative_studies"}
# Organizations drawn per bucket; users and collaborator pairs drawn from them.
BUCKET_ORGANIZATIONS = 200
LABEL = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# A database name PostgreSQL accepts unquoted or quoted; no NUL, 63 bytes.
DATABASE_NAME_MAX = 63


@dataclass
class ScaleDatabase:
    """One scale: its label and the database holding its data."""

    label: str
    database: str
    alias: str = DEFAULT_DB_ALIAS
    data_rows: int = 0
    row_counts: dict = field(default_factory=dict)


@dataclass
class Point:
    """One query's figures at one scale for one group of parameters."""

    query: str
    label: str
    function: bool
    scale: str
    data_rows: int
    group: str
    organizations: int | None
    median_members: float | None
    calls: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    rows: float
    rows_p95: float
    buffers_hit: float = 0
    buffers_read: float = 0


def parse_database(text: str) -> tuple[str, str]:
    """Return (label, database name) of a `--database LABEL=NAME` value.

    Raise ValueError with a message naming what is wrong.
    """
    label, sign, name = text.partition("=")
    if not sign or not label or not name:
        raise ValueError(
            f"--database {text!r}: write LABEL=DATABASE, e.g. medium=perfconsole_medium"
        )
    if not LABEL.match(label):
        raise ValueError(
            f"--database {text!r}: the label may hold letters, digits, - and _ "
            "(at most 40)"
        )
    if "\x00" in name or len(name.encode()) > DATABASE_NAME_MAX:
        raise ValueError(
            f"--database {text!r}: not a PostgreSQL database name (at most "
            f"{DATABASE_NAME_MAX} bytes, no NUL)"
        )
    return label, name


def open_alias(label: str, database: str) -> str:
    """Open a database alias for another database on the console's server.

    It copies the default connection's settings (host, port, role, options)
    with another database name and no pool: one plain connection, kept out
    of settings.DATABASES (close it with close_alias). The console's own
    database keeps the console's connection.
    """
    default = connections[DEFAULT_DB_ALIAS].settings_dict
    if database == default["NAME"]:
        return DEFAULT_DB_ALIAS
    alias = f"scaling_{label}"
    config = copy.deepcopy(default)
    config["NAME"] = database
    config["OPTIONS"].pop("pool", None)
    config["CONN_MAX_AGE"] = 0
    connections[alias] = load_backend(config["ENGINE"]).DatabaseWrapper(config, alias)
    return alias


def close_alias(alias: str) -> None:
    """Close an alias's connection and forget the alias."""
    if alias == DEFAULT_DB_ALIAS:
        return
    try:
        wrapper = connections[alias]
    except ConnectionDoesNotExist:
        return
    wrapper.close()
    del connections[alias]


def describe(cursor, scale: ScaleDatabase) -> None:
    """Fill in the scale's row counts (planner estimates) and their total."""
    cursor.execute(
        "SELECT relname, greatest(reltuples, 0)::bigint FROM pg_class"
        " WHERE oid IN (SELECT to_regclass(t) FROM unnest(%s::text[]) AS t)",
        [COLLABORATION_TABLES],
    )
    scale.row_counts = dict(cursor.fetchall())
    scale.data_rows = sum(scale.row_counts.values())


def bucket_of(members: int) -> str | None:
    """Return the name of the bucket holding an organization of this size."""
    for name, low, high in BUCKETS:
        if members >= low and (high is None or members <= high):
            return name
    return None


@dataclass
class Bucket:
    name: str
    organizations: int
    median_members: float
    pools: parameters.Pools


def bucket_pools(cursor, seed: int) -> list[Bucket]:
    """Return the buckets present in the data, each with parameters to draw from.

    Member counts are exact (one grouped scan of the memberships), so an
    organization sits in its true bucket whatever the statistics say.
    """
    cursor.execute(
        "SELECT organization_id, count(*) FROM organization_members"
        " GROUP BY organization_id ORDER BY organization_id"
    )
    sizes: dict[str, list] = {}
    for organization, members in cursor.fetchall():
        name = bucket_of(members)
        if name:
            sizes.setdefault(name, []).append((organization, members))
    rng = random.Random(seed)
    buckets = []
    for name, _, _ in BUCKETS:
        members = sizes.get(name)
        if not members:
            continue
        chosen = [
            organization
            for organization, _ in rng.sample(
                members, min(BUCKET_ORGANIZATIONS, len(members))
            )
        ]
        buckets.append(
            Bucket(
                name,
                len(members),
                statistics.median(count for _, count in members),
                draw_pools(cursor, chosen, seed),
            )
        )
    return buckets


def draw_pools(cursor, organizations: list, seed: int) -> parameters.Pools:
    """Return parameter pools of users, studies and pairs of these organizations."""
    size = parameters.POOL
    cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
    cursor.execute(
        "SELECT user_id FROM organization_members"
        " WHERE organization_id = ANY(%s::uuid[]) ORDER BY random() LIMIT %s",
        [organizations, size],
    )
    users = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        "SELECT sc.study_id, sc.user_id FROM studies AS s"
        "  JOIN study_collaborators AS sc ON sc.study_id = s.id"
        " WHERE s.organization_id = ANY(%s::uuid[]) ORDER BY random() LIMIT %s",
        [organizations, size],
    )
    pairs = [tuple(row) for row in cursor.fetchall()]
    return parameters.Pools(
        small_orgs=organizations,
        small_users=users,
        small_pairs=pairs,
        small_studies=[study for study, _ in pairs],
    )


# The pools each kind of parameter draws from (parameters.draw).
NEEDS = {
    "user": ("small_users",),
    "collaborator": ("small_pairs",),
    "study_user": ("small_pairs", "small_users"),
    "study": ("small_studies",),
    "organization": ("small_orgs",),
    "organization_status": ("small_orgs",),
}


def can_draw(kind: str, pools: parameters.Pools) -> bool:
    """Say whether the pools hold what this kind of parameter is drawn from."""
    return all(getattr(pools, name) for name in NEEDS[kind])


@dataclass
class ScalingBenchmark:
    scales: list[ScaleDatabase]
    queries: list[BenchmarkQuery]
    iterations: int = 20
    warmup: int = 1
    seed: int = 1
    progress: object = None
    points: list[Point] = field(default_factory=list)

    def say(self, text: str) -> None:
        if callable(self.progress):
            self.progress(text)

    def run(self) -> list[Point]:
        """Measure every query at every scale and bucket; return the points."""
        with ExitStack() as stack:
            cursors = {}
            groups = {}
            for scale in self.scales:
                stack.enter_context(transaction.atomic(using=scale.alias))
                cursor = stack.enter_context(connections[scale.alias].cursor())
                describe(cursor, scale)
                self.say(f"{scale.label}: {scale.database}, {scale.data_rows:,} rows")
                groups[scale.label] = self.groups(cursor)
                cursors[scale.label] = cursor
            for query in self.queries:
                self.say(f"measuring {query.name}")
                self.measure(query, cursors, groups)
            # Nothing of the benchmark is kept: roll every database back.
            for scale in self.scales:
                transaction.set_rollback(True, using=scale.alias)
        self.scales.sort(key=lambda scale: scale.data_rows)
        return self.points

    def groups(self, cursor) -> list[tuple[str, int | None, float | None, object]]:
        """Return (group, organizations, median members, pools) of one database."""
        pools = parameters.load_pools(cursor, self.seed)
        if pools.empty():
            raise ValueError(
                "no collaboration data to benchmark in "
                f"{cursor.db.settings_dict['NAME']}: load it with "
                "`manage.py seeddemo`"
            )
        found: list[tuple[str, int | None, float | None, object]] = [
            (ALL, None, None, pools)
        ]
        for bucket in bucket_pools(cursor, self.seed):
            found.append(
                (bucket.name, bucket.organizations, bucket.median_members, bucket.pools)
            )
        return found

    def measure(self, query, cursors, groups) -> None:
        """Measure one query at every scale and group, one call of each in turn.

        Round-robin, so a burst of load on the shared machine slows every
        scale and group alike instead of the one measured at that moment.
        """
        series = []
        for scale in self.scales:
            for group, organizations, median, pools in groups[scale.label]:
                if can_draw(query.params, pools):
                    params = parameters.draw(
                        query.params, pools, self.iterations, self.seed
                    )
                    point = Series(scale, group, organizations, median, params)
                    series.append(point)
        for _ in range(self.warmup):
            for one in series:
                for params in one.params:
                    runner.run_plain(cursors[one.scale.label], query, params)
        for call in range(self.iterations):
            for one in series:
                one.time(cursors[one.scale.label], query, one.params[call])
        self.points += [one.point(query) for one in series]


@dataclass
class Series:
    """The calls of one query at one scale for one group of parameters."""

    scale: ScaleDatabase
    group: str
    organizations: int | None
    median_members: float | None
    params: list
    server_ms: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    hit: int = 0
    read: int = 0

    def time(self, cursor, query, params) -> None:
        """Time one call as the runner does: EXPLAIN ANALYZE's execution time."""
        document = runner.explain(cursor, query, params)
        plan = document["Plan"]
        self.server_ms.append(document["Execution Time"])
        self.rows.append(plan.get("Actual Rows", 0))
        hit, read = plans.buffers(plan)
        self.hit += hit
        self.read += read

    def point(self, query) -> Point:
        """Return the figures of these calls."""
        server = plans.summary(self.server_ms)
        calls = max(1, len(self.server_ms))
        return Point(
            query=query.name,
            label=query.label,
            function=query.name in FUNCTIONS,
            scale=self.scale.label,
            data_rows=self.scale.data_rows,
            group=self.group,
            organizations=self.organizations,
            median_members=self.median_members,
            calls=len(self.server_ms),
            p50_ms=server["p50"],
            p95_ms=server["p95"],
            max_ms=server["max"],
            rows=round(sum(self.rows) / calls, 1),
            rows_p95=plans.summary(self.rows)["p95"],
            buffers_hit=round(self.hit / calls, 1),
            buffers_read=round(self.read / calls, 1),
        )
