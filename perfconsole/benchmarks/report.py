"""Present a benchmark document: the text table and the JSON file."""

from __future__ import annotations

from .runner import goals


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _row(cells, widths) -> str:
    return "  ".join(
        str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)
    )


def _rollup_line(run: dict) -> str:
    """Say whether get_organization_analytics could read the activity rollup."""
    covered = run.get("rollup_covered_until")
    if covered is None:
        return "Activity rollup: not built (get_organization_analytics scans raw rows)."
    return (
        f"Activity rollup: covers activity before {covered};"
        f" {run['rollup_dirty_marks']} organization(s) marked dirty."
    )


def text(document: dict) -> str:
    """Return the benchmark as a text table with targets, goals and plans."""
    run = document["run"]
    lines = [
        f"Benchmark: {run['database']} (scale {run['scale']}), PostgreSQL "
        f"{run['server_version']}, {run['iterations']} iterations after "
        f"{run['warmup']} warm-up, seed {run['seed']}, {run['duration_s']} s",
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
    for entry in document["queries"]:
        rows.append(
            [
                entry["name"],
                f"{entry['p50_ms']:.3f}",
                f"{entry['p95_ms']:.3f}",
                f"{entry['p99_ms']:.3f}",
                f"{entry['max_ms']:.3f}",
                f"{entry['client_p95_ms']:.3f}",
                entry["rows"],
                f"{entry['buffers_hit']:g}/{entry['buffers_read']:g}",
                f"<{entry['target_ms']:g}",
                _mark(entry["passed"]),
                f"{_mark(entry['goal_met'])} (<={entry['goal_ms']:g})",
            ]
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(11)]
    lines.append(_row(header, widths))
    lines += [_row(row, widths) for row in rows]
    lines.append("")
    lines.append("Plans (ms):")
    for entry in document["queries"]:
        seq = ", ".join(entry["seq_scan_relations"]) or "none"
        lines.append(
            f"  {entry['name']}: indexes {', '.join(entry['indexes']) or 'none'};"
            f" seq scan: {seq}; p95 large orgs {entry['p95_large_ms']:.3f},"
            f" others {entry['p95_small_ms']:.3f}"
        )
        without = entry.get("without")
        if without:
            seq = ", ".join(without["seq_scan_relations"]) or "none"
            timeouts = ""
            if without["timeouts"]:
                seconds = run["without_timeout_ms"] / 1000
                timeouts = (
                    f" ({without['timeouts']} calls hit the {seconds:g} s timeout:"
                    " the reduction is a lower bound)"
                )
            lines.append(
                f"    without: p50 {without['p50_ms']:.3f} p95 {without['p95_ms']:.3f}"
                f" -> reduction {entry['reduction_p50_pct']} % (p50),"
                f" {entry['reduction_p95_pct']} % (p95){timeouts};"
                f" indexes {', '.join(without['indexes']) or 'none'}; seq scan: {seq}"
            )
    if run.get("dropped"):
        lines.append("")
        lines.append(
            "Dropped for the comparison, then rolled back: " + "; ".join(run["dropped"])
        )
    lines.append("")
    lines.append("Goals (DESIGN.md) and seed targets:")
    for goal in goals(document):
        verdict = {True: "met   ", False: "MISSED", None: "n/a   "}[goal["met"]]
        lines.append(f"  {verdict} {goal['goal']}: {goal['value']}")
    passed = sum(entry["passed"] for entry in document["queries"])
    lines.append(f"Seed targets: {passed}/{len(document['queries'])} PASS.")
    return "\n".join(lines)


def public(document: dict) -> dict:
    """Return the document for --json, with the goals verdicts added."""
    return {**document, "goals": goals(document)}
