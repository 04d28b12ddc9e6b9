"""The analyzer's text and HTML read numbers in their units; JSON keeps them raw."""

import json
from datetime import UTC, datetime

from perfconsole.analyzer.findings import WARNING, Finding, Report
from perfconsole.analyzer.renderers import render_html, render_json, render_text

QUERY_ID = -8885596911298899480


def report():
    finding = Finding(
        check="slow_query",
        severity=WARNING,
        subject=f"query {QUERY_ID}",
        title=f"Query {QUERY_ID} takes 600 ms on average",
        evidence={
            "queryid": QUERY_ID,
            "calls": 13570,
            "mean_ms": 600.09699,
            "size_bytes": 10 * 1024 * 1024,
            "waiting_sec": 20.7,
            "cache_hit_pct": 99.5,
        },
        impact="",
        recommendation="Index it.",
    )
    moment = datetime(2026, 12, 1, 11, 2, 33, tzinfo=UTC)
    return Report(moment, "perfconsole", "18.1", findings=[finding])


def test_evidence_reads_in_units_counts_with_separators_ids_without():
    items = dict(report().findings[0].evidence_items())

    assert items["mean_ms"] == "600 ms"
    assert items["size_bytes"] == "10 MB"
    assert items["waiting_sec"] == "20.7 s"
    assert items["calls"] == "13,570"
    assert items["queryid"] == str(QUERY_ID)
    assert items["cache_hit_pct"] == "99.5"


def test_text_and_html_reports_read_the_same_way_with_seconds():
    for output in (render_text(report()), render_html(report())):
        rendered = " ".join(output.split())  # the text report wraps lines
        assert "600 ms" in rendered
        assert "10 MB" in rendered
        assert "13,570" in rendered
        assert "600.09699" not in rendered
        assert "2026-12-01 11:02:33 UTC" in rendered


def test_json_keeps_the_raw_numbers():
    evidence = json.loads(render_json(report()))["findings"][0]["evidence"]

    assert evidence["mean_ms"] == 600.09699
    assert evidence["size_bytes"] == 10 * 1024 * 1024
    assert evidence["queryid"] == QUERY_ID
    assert evidence["calls"] == 13570
