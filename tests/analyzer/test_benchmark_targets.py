"""The report judges our goals (core/targets.py) on the latest benchmark run."""

from datetime import UTC, datetime, timedelta

import pytest

from perfconsole.analyzer.report import Options, build_report
from perfconsole.benchmarks.models import BenchmarkResult, BenchmarkRun

pytestmark = pytest.mark.django_db


def _run(started_at, compare, results):
    run = BenchmarkRun.objects.create(
        started_at=started_at,
        scale="small",
        database="test",
        server_version="18.6",
        server_version_num=180006,
        iterations=50,
        compare=compare,
    )
    for position, result in enumerate(results):
        BenchmarkResult.objects.create(run=run, position=position, **result)
    return run


def _result(name, p95, goal, target, seq_scans, without_seq_scans=None):
    """Return a stored result; each table listed was scanned sequentially 4 times.

    4 calls of a query reading a table sequentially each time are 4 scans:
    the server's counters, as the benchmark counts them.
    """
    return {
        "name": name,
        "label": name.replace("_", " ").capitalize(),
        "sql": "SELECT 1",
        "target_ms": target,
        "goal_ms": goal,
        "p50_ms": p95 / 2,
        "p95_ms": p95,
        "p99_ms": p95 * 1.2,
        "max_ms": p95 * 2,
        "mean_ms": p95 / 2,
        "client_p50_ms": p95,
        "client_p95_ms": p95,
        "client_p99_ms": p95,
        "rows": 1,
        "buffers_hit": 4,
        "buffers_read": 0,
        "indexes": ["idx"],
        "seq_scan": bool(seq_scans),
        "seq_scan_relations": seq_scans,
        "seq_scan_count": 4 * len(seq_scans),
        "passed": p95 < target,
        "goal_met": p95 <= goal,
        "without": None
        if without_seq_scans is None
        else {
            "p95_ms": p95 * 40,
            "seq_scan_relations": without_seq_scans,
            "seq_scan_count": 4 * len(without_seq_scans),
        },
        "reduction_p50_pct": None if without_seq_scans is None else 96.0,
        "reduction_p95_pct": None if without_seq_scans is None else 97.5,
    }


def test_it_reports_the_seq_scan_reduction_of_the_latest_comparison():
    now = datetime.now(UTC)
    _run(
        now,
        True,
        [
            _result("member_lookup", 0.4, 1, 10, [], ["organization_members"]),
            _result("feed", 3.0, 2.5, 25, ["studies"], ["collaboration_activity"]),
            _result("analytics", 0.2, 5, 50, [], ["team_productivity_analytics"]),
        ],
    )
    report = build_report(Options.from_settings(trial_indexes=False))
    targets = {target.name: target for target in report.targets}
    reduction = targets["Sequential scan reduction"]
    assert reduction.measured == "67 % (12 → 4 sequential scans)"
    assert reduction.met is False


def test_it_judges_each_query_on_its_design_goal():
    now = datetime.now(UTC)
    _run(now - timedelta(days=1), False, [_result("old", 9, 1, 10, [])])
    _run(
        now,
        True,
        [
            _result("member_lookup", 0.4, 1, 10, [], []),
            _result("feed", 3.0, 2.5, 25, ["studies"], ["studies"]),
        ],
    )
    report = build_report(Options.from_settings(trial_indexes=False))
    goals = {check.name: check for check in report.benchmark}
    assert set(goals) == {"Member lookup", "Feed"}
    assert goals["Member lookup"].met is True
    assert goals["Feed"].met is False
    assert "seed target < 25 ms: pass" in goals["Feed"].detail
    assert "96.0 % (p50), 97.5 % (p95)" in goals["Feed"].detail
    assert "seq scan on studies" in goals["Feed"].detail
    assert "with --compare" in report.benchmark_run
    document = report.as_dict()
    assert [g["status"] for g in document["benchmark"]["goals"]] == ["met", "missed"]


def test_it_reads_latencies_in_their_unit_and_runs_with_seconds():
    started = datetime(2026, 11, 30, 10, 46, 7, tzinfo=UTC)
    _run(started, True, [_result("feed", 600.0969, 2.5, 25, [], ["studies"])])

    report = build_report(Options.from_settings(trial_indexes=False))

    feed = report.benchmark[0]
    assert feed.measured == "p95 600 ms"
    assert "p50 300 ms, p99 720 ms" in feed.detail
    assert "without the indexes p95 24 s" in feed.detail
    assert report.benchmark_run.startswith("2026-11-30 10:46:07 UTC")
