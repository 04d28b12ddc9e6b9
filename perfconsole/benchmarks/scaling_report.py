"""Judge how the queries' cost grows: fitted slopes, verdicts, table and charts.

A slope is fitted by least squares to log10(p95) against log10(size): 0 is
flat, 1 linear (10x the size, 10x the time). Across scales the size is the
rows in the collaboration tables; across buckets the organization's members
(the bucket's median).

Verdicts: an index lookup stays flat from the second-largest scale to the
largest (p95 at most FLAT_RATIO times as high); a function grows no faster
than its result across scales: its p95's slope at most the slope of its rows
returned plus SLOPE_ALLOWANCE (the same 1.5x per tenfold that flatness
allows). Across the buckets of the largest scale every query, lookup or
function, grows no faster than its result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .scaling import ALL, BUCKETS

FLAT_RATIO = 1.5
SLOPE_ALLOWANCE = math.log10(FLAT_RATIO)
BUCKET_ORDER = [name for name, _, _ in BUCKETS]


def fit_slope(points: list[tuple[float, float]]) -> float | None:
    """Return the least-squares slope of log10(y) against log10(x).

    None when it cannot be fitted: fewer than two distinct sizes, or a
    size or value that is not positive (no logarithm).
    """
    usable = [(x, y) for x, y in points if x is not None and y is not None]
    if any(x <= 0 or y <= 0 for x, y in usable):
        return None
    logs = [(math.log10(x), math.log10(y)) for x, y in usable]
    if len({x for x, _ in logs}) < 2:
        return None
    mean_x = sum(x for x, _ in logs) / len(logs)
    mean_y = sum(y for _, y in logs) / len(logs)
    spread = sum((x - mean_x) ** 2 for x, _ in logs)
    return sum((x - mean_x) * (y - mean_y) for x, y in logs) / spread


@dataclass
class Verdict:
    text: str
    met: bool | None


@dataclass
class QueryScaling:
    """One query's points and what they say."""

    name: str
    label: str
    function: bool
    # {scale: point of the "all" group}, smallest data first.
    by_scale: dict = field(default_factory=dict)
    # {scale: {bucket: point}}
    by_bucket: dict = field(default_factory=dict)
    scale_slope: float | None = None
    scale_rows_slope: float | None = None
    bucket_scale: str | None = None
    bucket_slope: float | None = None
    bucket_rows_slope: float | None = None
    verdicts: list = field(default_factory=list)


def analyse(points, scales: list[str]) -> list[QueryScaling]:
    """Return each query's slopes and verdicts, in the order measured.

    `points` are stored ScalingPoint rows or scaling.Point objects; `scales`
    the scale labels, smallest data first.
    """
    queries: dict[str, QueryScaling] = {}
    for point in points:
        query = queries.setdefault(
            point.query, QueryScaling(point.query, point.label, point.function)
        )
        if point.group == ALL:
            query.by_scale[point.scale] = point
        else:
            query.by_bucket.setdefault(point.scale, {})[point.group] = point
    for query in queries.values():
        query.by_scale = {s: query.by_scale[s] for s in scales if s in query.by_scale}
        judge(query, scales)
    return list(queries.values())


def judge(query: QueryScaling, scales: list[str]) -> None:
    """Fit the query's slopes and give its verdicts."""
    overall = list(query.by_scale.values())
    query.scale_slope = fit_slope([(p.data_rows, p.p95_ms) for p in overall])
    query.scale_rows_slope = fit_slope([(p.data_rows, p.rows_p95) for p in overall])
    largest = next((s for s in reversed(scales) if query.by_bucket.get(s)), None)
    if largest:
        buckets = list(query.by_bucket[largest].values())
        query.bucket_scale = largest
        query.bucket_slope = fit_slope([(p.median_members, p.p95_ms) for p in buckets])
        query.bucket_rows_slope = fit_slope(
            [(p.median_members, p.rows_p95) for p in buckets]
        )
    by_size = grows_with_result(
        f"across organization sizes at {largest or 'no scale'}",
        query.bucket_slope,
        query.bucket_rows_slope,
    )
    if query.function:
        across = grows_with_result(
            "across scales", query.scale_slope, query.scale_rows_slope
        )
        query.verdicts = [across, by_size]
    else:
        query.verdicts = [stays_flat(overall, query.by_bucket), by_size]


def stays_flat(overall: list, by_bucket: dict) -> Verdict:
    """Judge an index lookup: p95 at the largest scale against the one before.

    Judged on the usual mix of parameters; the ratio of each bucket present
    at both scales (the same organization sizes on more data) is said too.
    """
    if len(overall) < 2:
        return Verdict("flat: needs two scales", None)
    before, after = overall[-2], overall[-1]
    data = after.data_rows / max(1, before.data_rows)
    same_sizes = [
        f"{bucket} {ratio(point, by_bucket[after.scale][bucket])}"
        for bucket, point in by_bucket.get(before.scale, {}).items()
        if bucket in by_bucket.get(after.scale, {})
    ]
    by_size = f"; by organization size: {', '.join(same_sizes)}" if same_sizes else ""
    return Verdict(
        f"p95 {after.scale}/{before.scale} = {ratio(before, after)} for"
        f" {data:.1f}x the data (flat: <= {FLAT_RATIO:g}){by_size}",
        after.p95_ms <= FLAT_RATIO * before.p95_ms,
    )


def ratio(before, after) -> str:
    """Return after's p95 over before's, as text."""
    if before.p95_ms <= 0:
        return "–"
    return f"{after.p95_ms / before.p95_ms:.2f}"


def grows_with_result(where: str, slope, rows_slope) -> Verdict:
    """Judge a function: its p95 grows no faster than its rows returned."""
    if slope is None or rows_slope is None:
        return Verdict(f"{where}: too few points to fit", None)
    limit = rows_slope + SLOPE_ALLOWANCE
    return Verdict(
        f"{where}: p95 slope {slope:.2f}, rows slope {rows_slope:.2f}"
        f" (no faster: <= {limit:.2f})",
        slope <= limit,
    )


def slope_text(slope: float | None) -> str:
    return "–" if slope is None else f"{slope:.2f}"


def cell(point) -> str:
    """Return one table cell: p95 and the 95th percentile of rows per call."""
    if point is None:
        return "–"
    return f"{point.p95_ms:.3f} ({point.rows_p95:g})"


def table_rows(analysed: list[QueryScaling], scales: list[str]) -> list[dict]:
    """Return the table's rows: per query its "all" row, then each bucket's."""
    rows = []
    for query in analysed:
        rows.append(
            {
                "query": query,
                "group": ALL,
                "members": None,
                "cells": [query.by_scale.get(scale) for scale in scales],
                "first": True,
            }
        )
        for bucket in BUCKET_ORDER:
            cells = [query.by_bucket.get(scale, {}).get(bucket) for scale in scales]
            present = [point for point in cells if point]
            if not present:
                continue
            rows.append(
                {
                    "query": query,
                    "group": bucket,
                    "members": present[-1].median_members,
                    "cells": cells,
                    "first": False,
                }
            )
    return rows


def text(analysed, scales: list[dict], *, load: str = "") -> str:
    """Return the scaling benchmark as a text table with slopes and verdicts."""
    labels = [scale["label"] for scale in scales]
    lines = [
        "Cost as work grows: server p95 in ms (EXPLAIN ANALYZE), p95 of the rows"
        " returned per call in brackets.",
        "Scales: "
        + "; ".join(
            f"{s['label']} = {s['database']} ({s['data_rows']:,} rows)" for s in scales
        ),
    ]
    if load:
        lines.append(f"Load averages (1, 5, 15 min): {load}")
    lines.append("")
    header = ["query", "group", "median members", *labels]
    body = []
    for row in table_rows(analysed, labels):
        members = row["members"]
        body.append(
            [
                row["query"].name if row["first"] else "",
                row["group"],
                "" if members is None else f"{members:g}",
                *[cell(point) for point in row["cells"]],
            ]
        )
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for cells in body:
        lines.append(
            "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))
        )
    lines.append("")
    lines.append("Slopes of log p95 (and of log rows) against log size:")
    for query in analysed:
        lines.append(
            f"  {query.name}: across scales {slope_text(query.scale_slope)}"
            f" (rows {slope_text(query.scale_rows_slope)}); across organization"
            f" sizes at {query.bucket_scale or '–'} {slope_text(query.bucket_slope)}"
            f" (rows {slope_text(query.bucket_rows_slope)})"
        )
    lines.append("")
    lines.append("Shared buffers per call, hit/read (read: not in PostgreSQL's cache):")
    for query in analysed:
        lines.append(
            f"  {query.name}: "
            + "; ".join(
                f"{scale} {point.buffers_hit:g}/{point.buffers_read:g}"
                for scale, point in query.by_scale.items()
            )
        )
    lines.append("")
    lines.append("Verdicts:")
    for query in analysed:
        kind = "function" if query.function else "lookup"
        for verdict in query.verdicts:
            mark = {True: "met   ", False: "MISSED", None: "n/a   "}[verdict.met]
            lines.append(f"  {mark} {query.name} ({kind}): {verdict.text}")
    return "\n".join(lines)


def chart_data(analysed: list[QueryScaling], scales: list[dict]) -> dict:
    """Return the two log-log charts' data for the admin page (scaling.js).

    {"charts": [{"id", "title", "x_label", "x": [sizes], "series":
    [{"label", "values"}]}]}; values are p95 in ms, null where not measured.
    """
    labels = [scale["label"] for scale in scales]
    by_data = {
        "id": "scales",
        "title": "p95 against data size (rows in the collaboration tables)",
        "x_label": "rows",
        "x": [scale["data_rows"] for scale in scales],
        "series": [
            {
                "label": f"{query.name} (slope {slope_text(query.scale_slope)})",
                "values": [
                    point.p95_ms if point else None
                    for point in (query.by_scale.get(label) for label in labels)
                ],
            }
            for query in analysed
        ],
    }
    largest = next((q.bucket_scale for q in analysed if q.bucket_scale), None)
    sizes = sorted(
        {
            point.median_members
            for query in analysed
            for point in query.by_bucket.get(largest, {}).values()
        }
    )
    by_members = {
        "id": "buckets",
        "title": f"p95 against organization size (median members) at {largest}",
        "x_label": "members",
        "x": sizes,
        "series": [
            {
                "label": f"{query.name} (slope {slope_text(query.bucket_slope)})",
                "values": [
                    bucket_p95(query.by_bucket.get(largest, {}), size) for size in sizes
                ],
            }
            for query in analysed
        ],
    }
    charts = [by_data]
    if largest and sizes:
        charts.append(by_members)
    return {"charts": charts}


def bucket_p95(buckets: dict, size: float):
    """Return the p95 of the bucket whose median is this size, else None."""
    for point in buckets.values():
        if point.median_members == size:
            return point.p95_ms
    return None
