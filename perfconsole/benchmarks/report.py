"""Present a benchmark result: the text table and the JSON file."""

from __future__ import annotations

from .results import RunFacts, RunResult


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _row(cells, widths) -> str:
    return "  ".join(
        str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)
    )


def _rollup_line(run: RunFacts) -> str:
    """Say whether get_organization_analytics could read the activity rollup."""
    covered = run.rollup_covered_until
    if covered is None:
        return "Activity rollup: not built (get_organization_analytics scans raw rows)."
    return (
        f"Activity rollup: covers activity before {covered};"
        f" {run.rollup_dirty_marks} organization(s) marked dirty."
    )


def text(result: RunResult) -> str:
    """Return the benchmark as a text table with targets, goals and plans."""
    run = result.run
    lines = [
        f"Benchmark: {run.database} (scale {run.scale}), PostgreSQL "
        f"{run.server_version}, {run.iterations} iterations after "
        f"{run.warmup} warm-up, seed {run.seed}, {run.duration_s} s",
        "Server times from EXPLAIN (ANALYZE, BUFFERS); client = round trip.",
        _rollup_line(run),
        "",
    ]
    header = [
        "query",
        "p50",
        "p95",
        "p99",
        "max",
        "client p95",
        "rows",
        "hit/read",
        "target",
        "seed",
        "goal",
    ]
    rows = []
    for entry in result.queries:
        figures = entry.figures
        rows.append(
            [
                entry.name,
                f"{figures.p50_ms:.3f}",
                f"{figures.p95_ms:.3f}",
                f"{figures.p99_ms:.3f}",
                f"{figures.max_ms:.3f}",
                f"{figures.client_p95_ms:.3f}",
                figures.rows,
                f"{figures.buffers_hit:g}/{figures.buffers_read:g}",
                f"<{entry.goal.seed_ms:g}",
                _mark(entry.passed),
                f"{_mark(entry.goal_met)} (<={entry.goal.goal_p95_ms:g})",
            ]
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(11)]
    lines.append(_row(header, widths))
    lines += [_row(row, widths) for row in rows]
    lines.append("")
    lines.append("Plans (ms):")
    for entry in result.queries:
        figures = entry.figures
        seq = ", ".join(figures.seq_scan_relations) or "none"
        lines.append(
            f"  {entry.name}: indexes {', '.join(figures.indexes) or 'none'};"
            f" seq scan: {seq}; p95 large orgs {figures.p95_large_ms:.3f},"
            f" others {figures.p95_small_ms:.3f}"
        )
        without = entry.without
        if without:
            seq = ", ".join(without.seq_scan_relations) or "none"
            timeouts = ""
            if without.timeouts:
                seconds = run.without_timeout_ms / 1000
                timeouts = (
                    f" ({without.timeouts} calls hit the {seconds:g} s timeout:"
                    " the reduction is a lower bound)"
                )
            lines.append(
                f"    without: p50 {without.p50_ms:.3f} p95 {without.p95_ms:.3f}"
                f" -> reduction {entry.reduction_p50_pct} % (p50),"
                f" {entry.reduction_p95_pct} % (p95){timeouts};"
                f" indexes {', '.join(without.indexes) or 'none'}; seq scan: {seq}"
            )
    if run.dropped:
        lines.append("")
        lines.append(
            "Dropped for the comparison, then rolled back: " + "; ".join(run.dropped)
        )
    lines.append("")
    lines.append("Our goals and the seed's targets (perfconsole/core/targets.py):")
    for verdict in result.verdicts():
        mark = {True: "met   ", False: "MISSED", None: "n/a   "}[verdict.met]
        lines.append(f"  {mark} {verdict.goal}: {verdict.value}")
    passed = sum(entry.passed for entry in result.queries)
    lines.append(f"Seed targets: {passed}/{len(result.queries)} PASS.")
    return "\n".join(lines)
