"""The benchmark and the analyzer judge with the same goals (core/targets.py)."""

import dataclasses
import json

import pytest
from django.core.management import call_command

from perfconsole.analyzer.report import Options, build_report
from perfconsole.benchmarks.queries import QUERIES
from perfconsole.core import targets


def set_feed_goal(monkeypatch, goal_ms):
    """Change the activity feed's goal in the one goals module."""
    feed = targets.QUERY_GOALS["activity_feed"]
    monkeypatch.setitem(
        targets.QUERY_GOALS,
        "activity_feed",
        dataclasses.replace(feed, goal_p95_ms=goal_ms),
    )


def analyzer_verdict():
    """Return the analyzer's verdict on the feed of the latest stored run."""
    report = build_report(Options.from_settings(trial_indexes=False))
    (check,) = report.benchmark
    return check.met, check.target


@pytest.mark.parametrize("goal_ms, met", [(0.000001, False), (60_000, True)])
def test_a_goal_changed_in_the_module_changes_both_verdicts(
    small_demo, tmp_path, monkeypatch, goal_ms, met
):
    set_feed_goal(monkeypatch, goal_ms)
    out = tmp_path / "bench.json"

    call_command("benchmark", iterations=2, names=["activity_feed"], json_file=str(out))

    document = json.loads(out.read_text())
    (runner,) = [
        goal["met"]
        for goal in document["goals"]
        if goal["goal"].startswith("activity_feed: p95")
    ]
    assert runner is met
    assert document["queries"][0]["goal_ms"] == goal_ms
    assert analyzer_verdict() == (met, f"p95 ≤ {goal_ms:g} ms")
    # The stored run is judged on the module's goal as it is now, not on the
    # verdict stored with it.
    other = 60_000 if goal_ms < 1 else 0.000001
    set_feed_goal(monkeypatch, other)
    assert analyzer_verdict() == (not met, f"p95 ≤ {other:g} ms")


def test_every_benchmark_query_has_its_goal():
    assert [query.goal.query for query in QUERIES] == list(targets.QUERY_GOALS)


def test_targets_md_shows_the_module():
    from pathlib import Path

    text = (Path(targets.__file__).parents[2] / "TARGETS.md").read_text()

    assert targets.markdown_table() in text


def test_the_seeded_alert_rules_are_the_seeds_alert_conditions():
    import importlib

    migration = importlib.import_module("perfconsole.alerts.migrations.0002_seed_rules")
    thresholds = {rule["metric"]: rule["threshold"] for rule in migration.RULES}

    assert thresholds["query_mean_time_ms"] == targets.ALERT_CRITICAL_PATH_MS
    assert thresholds["index_usage_pct"] == targets.ALERT_INDEX_USAGE.pct
    assert thresholds["seq_scan_pct"] == targets.ALERT_SEQ_SCAN_RATE.pct
    assert thresholds["dead_tuples"] == targets.ALERT_DEAD_TUPLES
    assert thresholds["cache_hit_pct"] == targets.CACHE_HIT.pct
