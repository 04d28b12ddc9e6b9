"""Render the analyzer report as text, JSON or a standalone HTML page."""

from __future__ import annotations

import json
import math
import textwrap
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.template.loader import render_to_string

from perfconsole.core import formatting

from .tables import report_tables

WIDTH = 88


def render_json(report):
    """Return the report as a JSON document (one entry per finding)."""
    return json.dumps(plain_data(report.as_dict()), indent=2) + "\n"


def plain_data(value):
    """Return value in JSON's own types, so no value arrives as a Python repr.

    Objects stay objects and numbers stay numbers (a Decimal too); moments
    are ISO 8601 text, durations seconds, anything else its text.
    """
    if isinstance(value, dict):
        return {str(key): plain_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_data(item) for item in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)


def render_html(report):
    """Return the report as a standalone HTML page, every value escaped."""
    context = {"report": report, "tables": report_tables(report)}
    return render_to_string("analyzer/report.html", context)


def render_text(report):
    """Return the report as plain text for a terminal."""
    counts = report.counts()
    lines = [
        f"Analyzer report for {report.database} (PostgreSQL "
        f"{report.server_version}), {formatting.timestamp(report.generated_at)}",
        f"{counts['critical']} critical, {counts['warning']} warning, "
        f"{counts['info']} info",
        f"Statements and the cache hit rate: {report.window or 'lifetime counters'}.",
        "",
        "Index efficiency targets",
    ]
    for target in report.targets:
        lines.append(
            f"  [{target.status.upper()}] {target.name} {target.target}: "
            f"{target.measured}"
        )
        if target.detail:
            lines.extend(_wrap(target.detail, "      "))
    lines.append("")
    if report.benchmark:
        lines.append(
            f"Our goals (TARGETS.md), latest benchmark ({report.benchmark_run})"
        )
        for check in report.benchmark:
            lines.append(
                f"  [{check.status.upper()}] {check.name} {check.target}: "
                f"{check.measured}"
            )
            lines.extend(_wrap(check.detail, "      "))
        lines.append("")
    if not report.findings:
        lines.append("No findings.")
    for number, finding in enumerate(report.findings, start=1):
        lines.append(f"{number}. [{finding.severity.upper()}] {finding.title}")
        lines.append(f"   check: {finding.check}   subject: {finding.subject}")
        evidence = _evidence_line(finding)
        if evidence:
            lines.extend(_wrap(f"evidence: {evidence}", "   "))
        if "query" in finding.evidence:
            lines.extend(
                _wrap(f"query: {_short(finding.evidence['query'], 300)}", "   ")
            )
        lines.extend(_wrap(f"impact: {finding.impact}", "   "))
        lines.extend(_wrap(f"do: {finding.recommendation}", "   "))
        if finding.fix_sql:
            first, *rest = finding.fix_sql.splitlines()
            lines.append(f"   sql: {first}")
            lines.extend(f"        {line}" for line in rest)
        lines.append("")
    for note in report.notes:
        lines.extend(_wrap(f"Note: {note}", ""))
    return "\n".join(lines).rstrip() + "\n"


def _evidence_line(finding):
    """Return the evidence as key=value pairs, rows as their subjects."""
    pairs = []
    for key, text in finding.evidence_items():
        if key in ("query", "summary"):
            continue  # the query has its own line, the summary is the title
        rows = finding.evidence[key]
        if key == "rows" and isinstance(rows, list):
            text = f"{len(rows)}: " + ", ".join(
                str(row.get("subject", "?")) for row in rows
            )
        pairs.append(f"{key}={_short(text)}")
    return ", ".join(pairs)


def _short(value, limit=80):
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _wrap(text, indent):
    return textwrap.wrap(
        text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  "
    ) or [indent]


RENDERERS = {"text": render_text, "json": render_json, "html": render_html}
