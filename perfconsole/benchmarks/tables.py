"""Tables of the benchmark pages: one run's queries, two runs compared."""

from django.utils.html import format_html

from perfconsole.core import formatting
from perfconsole.core.tables import (
    ConsoleTable,
    DurationColumn,
    NumberColumn,
    RawNumberColumn,
    TextColumn,
)

from . import scaling_report


def joined(names):
    """Return index names as one comma-separated string."""
    return ", ".join(names or ())


def percent(value):
    """Return a change in percent, or nothing when it cannot be computed."""
    return "" if value is None else f"{value} %"


def mean(value):
    """Return a mean count with separators and at most one decimal."""
    return f"{round(value, 1):,}".removesuffix(".0")


def both(first_ms, second_ms):
    """Return two durations in milliseconds as "1.2 ms / 35 ms" ("–" if missing)."""
    return " / ".join(formatting.duration(ms) or "–" for ms in (first_ms, second_ms))


class CompareTable(ConsoleTable):
    """Two runs side by side, one row per query (compare_runs())."""

    class Meta(ConsoleTable.Meta):
        orderable = False

    name = TextColumn(verbose_name="query")
    p50_before = DurationColumn(verbose_name="p50 before", accessor="before__p50_ms")
    p50_after = DurationColumn(verbose_name="p50 after", accessor="after__p50_ms")
    p50_change = RawNumberColumn(verbose_name="change", empty_values=())
    p95_before = DurationColumn(verbose_name="p95 before", accessor="before__p95_ms")
    p95_after = DurationColumn(verbose_name="p95 after", accessor="after__p95_ms")
    p95_change = RawNumberColumn(verbose_name="change", empty_values=())
    indexes_before = TextColumn(
        verbose_name="indexes before", accessor="before__indexes", empty_values=()
    )
    indexes_after = TextColumn(
        verbose_name="indexes after", accessor="after__indexes", empty_values=()
    )

    def render_p50_change(self, value):
        return percent(value)

    def render_p95_change(self, value):
        return percent(value)

    def render_indexes_before(self, value):
        return joined(value)

    def render_indexes_after(self, value, record):
        if record["plan_changed"]:
            return format_html("<strong>{}</strong>", joined(value))
        return joined(value)


class ResultTable(ConsoleTable):
    """One run's queries: latency, rows, buffers, verdicts, and the comparison."""

    class Meta(ConsoleTable.Meta):
        orderable = False

    label = TextColumn(verbose_name="query")
    p50_ms = DurationColumn(verbose_name="p50")
    p95_ms = DurationColumn(verbose_name="p95")
    p99_ms = DurationColumn(verbose_name="p99")
    max_ms = DurationColumn(verbose_name="max")
    p95_split = TextColumn(verbose_name="p95 large orgs / others", empty_values=())
    client_p95_ms = DurationColumn(verbose_name="client p95")
    rows = NumberColumn(verbose_name="rows")
    buffers = TextColumn(verbose_name="buffers hit/read", empty_values=())
    target_ms = TextColumn(verbose_name="target")
    passed = TextColumn(verbose_name="seed target", empty_values=())
    goal_met = TextColumn(verbose_name="our goal", empty_values=())
    without = TextColumn(verbose_name="without: p50 / p95", empty_values=())
    reduction = TextColumn(verbose_name="reduction p50 / p95", empty_values=())

    def __init__(self, results, *, compare):
        exclude = () if compare else ("without", "reduction")
        super().__init__(results, exclude=exclude)

    def render_label(self, value, record):
        return format_html('<a href="#{}">{}</a>', record.name, value)

    def render_p95_split(self, record):
        return both(record.p95_large_ms, record.p95_small_ms)

    def render_buffers(self, record):
        return f"{mean(record.buffers_hit)} / {mean(record.buffers_read)}"

    def render_target_ms(self, value):
        return f"< {value} ms"

    def render_passed(self, value):
        return "PASS" if value else format_html("<strong>{}</strong>", "FAIL")

    def render_goal_met(self, value, record):
        return f"{'met' if value else 'missed'} (≤ {record.goal_ms} ms)"

    def render_without(self, record):
        return both(record.without_p50_ms, record.without_p95_ms)

    def render_reduction(self, record):
        if not record.uses_performance_indexes:
            return "n/a (no performance index in its plan)"
        return f"{record.reduction_p50_pct} % / {record.reduction_p95_pct} %"


# -- a scaling run (benchmark --scaling) ----------------------------------------


class ScalesTable(ConsoleTable):
    """The scales a scaling run measured: label, database, rows."""

    class Meta(ConsoleTable.Meta):
        orderable = False
        attrs = {"class": "pc-table", "id": "scaling-scales"}

    label = TextColumn(verbose_name="scale")
    database = TextColumn()
    data_rows = NumberColumn(verbose_name="rows in the collaboration tables")


class ScalingTable(ConsoleTable):
    """p95 by scale and organization size: one column per scale, added per run."""

    class Meta(ConsoleTable.Meta):
        orderable = False
        attrs = {"class": "pc-table", "id": "scaling-table"}

    query = TextColumn()
    group = TextColumn()
    members = NumberColumn(verbose_name="median members")

    @classmethod
    def for_run(cls, rows, scales):
        """Return the table of scaling_report.table_rows(), a column per scale."""
        columns = [
            (f"scale_{index}", TextColumn(verbose_name=label, orderable=False))
            for index, label in enumerate(scales)
        ]
        data = [
            {
                "query": row["query"].label if row["first"] else "",
                "group": row["group"],
                "members": row["members"],
                **{
                    f"scale_{index}": scaling_report.cell(point)
                    for index, point in enumerate(row["cells"])
                },
            }
            for row in rows
        ]
        return cls(data, extra_columns=columns)


class SlopesTable(ConsoleTable):
    """Each query's fitted slopes, and its buffers per call by scale."""

    class Meta(ConsoleTable.Meta):
        orderable = False
        attrs = {"class": "pc-table", "id": "scaling-slopes"}

    label = TextColumn(verbose_name="query")
    # A slope not fitted (None) shows the columns' dash.
    scale_slope = NumberColumn(verbose_name="p95 across scales")
    scale_rows_slope = NumberColumn(verbose_name="rows across scales")
    bucket_slope = NumberColumn(verbose_name="p95 across organization sizes")
    bucket_rows_slope = NumberColumn(verbose_name="rows across organization sizes")
    buffers = TextColumn(
        verbose_name='shared buffers per call, hit/read ("all", by scale)',
        accessor="by_scale",
    )

    def render_buffers(self, value):
        return "; ".join(
            f"{scale} {point.buffers_hit:g}/{point.buffers_read:g}"
            for scale, point in value.items()
        )
