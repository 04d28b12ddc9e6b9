"""Stored benchmark runs: one row per run, one per query measured."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import models, transaction

from perfconsole.collaboration.performance import INDEXES
from perfconsole.core import formatting

from .results import RunResult


class BenchmarkRun(models.Model):
    started_at = models.DateTimeField(db_index=True)
    duration_s = models.FloatField(default=0)
    scale = models.CharField(max_length=20)
    database = models.CharField(max_length=100)
    server_version = models.CharField(max_length=100)
    server_version_num = models.IntegerField()
    settings = models.JSONField(default=dict)
    row_counts = models.JSONField(default=dict)
    iterations = models.PositiveIntegerField()
    warmup = models.PositiveIntegerField(default=0)
    seed = models.IntegerField(default=1)
    compare = models.BooleanField(default=False)
    bare = models.BooleanField(
        default=False, help_text="the comparison also dropped non-primary indexes"
    )
    without_timeout_ms = models.IntegerField(default=0)
    dropped = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]
        default_permissions = ("view",)

    def __str__(self):
        when = formatting.timestamp(self.started_at)
        return f"{when} {self.scale} PG {self.server_version}"

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results.all())

    @classmethod
    @transaction.atomic
    def store(cls, result: RunResult) -> BenchmarkRun:
        """Save a benchmark's result (from runner.Benchmark.run)."""
        facts = result.run
        run = cls.objects.create(
            started_at=datetime.fromtimestamp(facts.started_at, tz=UTC),
            duration_s=facts.duration_s,
            scale=facts.scale,
            database=facts.database,
            server_version=facts.server_version,
            server_version_num=facts.server_version_num,
            settings=facts.settings,
            row_counts=facts.row_counts,
            iterations=facts.iterations,
            warmup=facts.warmup,
            seed=facts.seed,
            compare=facts.compare,
            bare=facts.bare,
            without_timeout_ms=facts.without_timeout_ms,
            dropped=facts.dropped,
        )
        BenchmarkResult.objects.bulk_create(
            BenchmarkResult.from_entry(run, position, entry.as_dict())
            for position, entry in enumerate(result.queries)
        )
        return run

    def result(self) -> RunResult:
        """Return the stored run as a RunResult, judged on today's goals."""
        return RunResult.from_stored(self)


class BenchmarkResult(models.Model):
    run = models.ForeignKey(
        BenchmarkRun, on_delete=models.CASCADE, related_name="results"
    )
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=100)
    label = models.CharField(max_length=200)
    sql = models.TextField()
    target_ms = models.FloatField()
    goal_ms = models.FloatField()
    p50_ms = models.FloatField()
    p95_ms = models.FloatField()
    p99_ms = models.FloatField()
    max_ms = models.FloatField()
    mean_ms = models.FloatField()
    planning_p50_ms = models.FloatField(default=0)
    client_p50_ms = models.FloatField()
    client_p95_ms = models.FloatField()
    client_p99_ms = models.FloatField()
    rows = models.FloatField(help_text="rows returned, mean per call")
    buffers_hit = models.FloatField(help_text="shared buffers hit, mean per call")
    buffers_read = models.FloatField(help_text="shared buffers read, mean per call")
    indexes = models.JSONField(default=list)
    seq_scan = models.BooleanField()
    seq_scan_relations = models.JSONField(default=list)
    seq_scan_count = models.IntegerField(
        default=0, help_text="sequential scans of the collaboration tables"
    )
    p95_large_ms = models.FloatField(
        null=True, blank=True, help_text="p95 for the largest organizations"
    )
    p95_small_ms = models.FloatField(
        null=True, blank=True, help_text="p95 for the other parameters"
    )
    passed = models.BooleanField()
    goal_met = models.BooleanField()
    plan = models.JSONField(null=True)
    # The "without the performance indexes" phase of a comparison.
    without = models.JSONField(null=True, blank=True)
    reduction_p50_pct = models.FloatField(null=True, blank=True)
    reduction_p95_pct = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["run", "position"]
        default_permissions = ("view",)

    def __str__(self):
        return f"{self.name} ({self.run_id})"

    @classmethod
    def from_entry(cls, run, position, entry) -> BenchmarkResult:
        """Build (unsaved) one query's row from its JSON entry."""
        fields = {
            field.name
            for field in cls._meta.concrete_fields
            if field.name not in ("id", "run", "position")
        }
        values = {key: value for key, value in entry.items() if key in fields}
        return cls(run=run, position=position, **values)

    @property
    def uses_performance_indexes(self) -> bool:
        """Return whether the plan used any of the six performance indexes."""
        return bool({spec.name for spec in INDEXES} & set(self.indexes))

    @property
    def without_p95_ms(self):
        return (self.without or {}).get("p95_ms")

    @property
    def without_p50_ms(self):
        return (self.without or {}).get("p50_ms")


class ScalingRun(models.Model):
    """One `benchmark --scaling` run: the queries across scales and buckets."""

    started_at = models.DateTimeField(db_index=True)
    duration_s = models.FloatField(default=0)
    server_version = models.CharField(max_length=100)
    iterations = models.PositiveIntegerField()
    warmup = models.PositiveIntegerField(default=0)
    seed = models.IntegerField(default=1)
    # [{"label", "database", "data_rows", "row_counts"}], smallest data first.
    scales = models.JSONField(default=list)
    load_before = models.CharField(
        max_length=50, blank=True, help_text="load averages (1, 5, 15 min) at start"
    )
    load_after = models.CharField(
        max_length=50, blank=True, help_text="load averages (1, 5, 15 min) at end"
    )

    class Meta:
        ordering = ["-started_at"]
        default_permissions = ("view",)

    def __str__(self):
        labels = ", ".join(scale["label"] for scale in self.scales)
        return f"{formatting.timestamp(self.started_at)} ({labels})"

    @classmethod
    @transaction.atomic
    def store(cls, points, **facts) -> ScalingRun:
        """Save a scaling run: its facts and its points (scaling.Point)."""
        started_at = datetime.fromtimestamp(facts.pop("started_at"), tz=UTC)
        run = cls.objects.create(started_at=started_at, **facts)
        ScalingPoint.objects.bulk_create(
            ScalingPoint(run=run, position=position, **vars(point))
            for position, point in enumerate(points)
        )
        return run

    @property
    def scale_labels(self) -> list[str]:
        """Return the scales' labels, smallest data first."""
        return [scale["label"] for scale in self.scales]


class ScalingPoint(models.Model):
    """One query's figures at one scale, for one group of parameters.

    The group is "all" (the benchmark's usual mix of parameters) or an
    organization-size bucket such as "100-999" (members).
    """

    run = models.ForeignKey(ScalingRun, on_delete=models.CASCADE, related_name="points")
    position = models.PositiveIntegerField(default=0)
    query = models.CharField(max_length=100)
    label = models.CharField(max_length=200)
    function = models.BooleanField(
        default=False, help_text="an unbounded SQL function (not an index lookup)"
    )
    scale = models.CharField(max_length=40)
    data_rows = models.BigIntegerField(help_text="rows in the collaboration tables")
    group = models.CharField(max_length=20)
    organizations = models.IntegerField(
        null=True, blank=True, help_text="organizations in the bucket"
    )
    median_members = models.FloatField(
        null=True, blank=True, help_text="median members of the bucket's organizations"
    )
    calls = models.PositiveIntegerField()
    p50_ms = models.FloatField()
    p95_ms = models.FloatField()
    max_ms = models.FloatField()
    rows = models.FloatField(help_text="rows returned, mean per call")
    rows_p95 = models.FloatField(help_text="rows returned, 95th percentile")
    buffers_hit = models.FloatField(
        default=0, help_text="shared buffers hit, mean per call"
    )
    buffers_read = models.FloatField(
        default=0, help_text="shared buffers read (not in PostgreSQL's cache)"
    )

    class Meta:
        ordering = ["run", "position"]
        default_permissions = ("view",)

    def __str__(self):
        return f"{self.query} {self.scale} {self.group}"
