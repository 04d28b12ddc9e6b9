"""The data migration that seeds the rules."""

import pytest

from perfconsole.alerts.models import AlertRule, Metric


@pytest.mark.django_db
def test_it_seeds_the_eight_rules():
    """The data migration leaves the seed's four rules and four more."""
    rules = {rule.metric: rule for rule in AlertRule.objects.all()}
    assert set(rules) == set(Metric.values)
    assert (
        rules["query_mean_time_ms"].comparison,
        rules["query_mean_time_ms"].threshold,
    ) == ("gt", 100)
    assert "study_collaborators" in rules["query_mean_time_ms"].tables
    assert rules["seq_scan_pct"].min_rows == 10000
    assert (
        rules["index_usage_pct"].comparison,
        rules["index_usage_pct"].threshold,
    ) == ("lt", 80)
    assert (rules["dead_tuples"].comparison, rules["dead_tuples"].threshold) == (
        "gt",
        1000,
    )
    assert rules["cache_hit_pct"].threshold == 95
