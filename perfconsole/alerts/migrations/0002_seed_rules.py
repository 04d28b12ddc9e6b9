"""Seed the alert rules: the seed report's four conditions and four more."""

from django.db import migrations

# The collaboration tables: the critical paths and key tables of the seed.
COLLABORATION_TABLES = [
    "users",
    "organizations",
    "organization_members",
    "studies",
    "study_collaborators",
    "collaboration_activity",
]

RULES = [
    {
        "name": "Slow critical query",
        "metric": "query_mean_time_ms",
        "comparison": "gt",
        "threshold": 100,
        "severity": "critical",
        "tables": COLLABORATION_TABLES,
        "description": "Query response time > 100 ms for critical paths: mean "
        "execution time from pg_stat_statements of statements on the "
        "collaboration tables.",
    },
    {
        "name": "Low index usage on a key table",
        "metric": "index_usage_pct",
        "comparison": "lt",
        "threshold": 80,
        "severity": "warning",
        "tables": COLLABORATION_TABLES,
        "description": "Index usage ratio < 80 % for key tables (share of scans "
        "that used an index).",
    },
    {
        "name": "Sequential scans on a large table",
        "metric": "seq_scan_pct",
        "comparison": "gt",
        "threshold": 20,
        "severity": "warning",
        "min_rows": 10000,
        "description": "Sequential scan rate > 20 % for tables of 10 000 rows or more.",
    },
    {
        "name": "Dead tuples",
        "metric": "dead_tuples",
        "comparison": "gt",
        "threshold": 1000,
        "severity": "warning",
        "description": "Dead tuple count > 1000 for any table: autovacuum is "
        "behind or blocked.",
    },
    {
        "name": "Materialized view not refreshed",
        "metric": "matview_stale_hours",
        "comparison": "gt",
        "threshold": 2,
        "severity": "warning",
        "description": "A materialized view not refreshed successfully for over "
        "2 hours, judged in business hours only.",
    },
    {
        "name": "Materialized view refresh failed",
        "metric": "refresh_failed",
        "comparison": "gte",
        "threshold": 1,
        "severity": "critical",
        "cooldown_minutes": 0,
        "description": "The latest refresh of a materialized view failed.",
    },
    {
        "name": "Low cache hit rate",
        "metric": "cache_hit_pct",
        "comparison": "lt",
        "threshold": 95,
        "severity": "warning",
        "description": "Buffer cache hit rate of the database under 95 %.",
    },
    {
        "name": "Invalid index",
        "metric": "invalid_index",
        "comparison": "gte",
        "threshold": 1,
        "severity": "critical",
        "cooldown_minutes": 0,
        "description": "An INVALID index, left by a failed concurrent build: "
        "drop it and build it again.",
    },
]


def seed_rules(apps, schema_editor):
    """Create the rules that do not exist yet; leave edited ones alone."""
    AlertRule = apps.get_model("alerts", "AlertRule")
    for rule in RULES:
        AlertRule.objects.get_or_create(name=rule["name"], defaults=rule)


def remove_rules(apps, schema_editor):
    AlertRule = apps.get_model("alerts", "AlertRule")
    AlertRule.objects.filter(name__in=[rule["name"] for rule in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]

    operations = [migrations.RunPython(seed_rules, remove_rules)]
