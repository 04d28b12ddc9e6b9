"""Alert rule: a monitored database that could not be collected."""

from django.db import migrations, models

RULE = {
    "name": "Database unreachable",
    "metric": "database_unreachable",
    "comparison": "gte",
    "threshold": 1,
    "severity": "critical",
    "cooldown_minutes": 0,
    "description": "A monitored database could not be collected: its server "
    "is down or does not answer, refuses the login, lacks pg_stat_statements "
    "or a grant, or timed out. The alert names the database and the reason; "
    "it resolves at the first collection that reads it again.",
}


def seed_rule(apps, schema_editor):
    """Create the rule unless it exists; leave an edited one alone."""
    AlertRule = apps.get_model("alerts", "AlertRule")
    AlertRule.objects.get_or_create(name=RULE["name"], defaults=RULE)


def remove_rule(apps, schema_editor):
    AlertRule = apps.get_model("alerts", "AlertRule")
    AlertRule.objects.filter(name=RULE["name"]).delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0005_replication_rules")]

    operations = [
        migrations.AlterField(
            model_name="alertrule",
            name="metric",
            field=models.CharField(
                choices=[
                    ("query_mean_time_ms", "Query mean time (ms)"),
                    ("index_usage_pct", "Index usage ratio (%)"),
                    ("seq_scan_pct", "Sequential scan rate (%)"),
                    ("dead_tuples", "Dead tuples"),
                    ("matview_stale_hours", "Hours since last view refresh"),
                    ("refresh_failed", "Last view refresh failed (1 = yes)"),
                    ("cache_hit_pct", "Cache hit rate (%)"),
                    ("invalid_index", "Invalid index (1 = yes)"),
                    ("replication_lag_bytes", "Replication lag (bytes)"),
                    ("replication_lag_s", "Replication lag (seconds)"),
                    ("inactive_slot_bytes", "WAL kept by an inactive slot (bytes)"),
                    ("database_unreachable", "Database unreachable (1 = yes)"),
                ],
                max_length=40,
            ),
        ),
        migrations.RunPython(seed_rule, remove_rule),
    ]
