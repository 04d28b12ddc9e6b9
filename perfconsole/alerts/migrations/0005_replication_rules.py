"""Alert rules on replication: lag in bytes and seconds, inactive slots keeping WAL."""

from django.db import migrations, models

MB = 1024 * 1024
RULES = [
    {
        "name": "Replication lag (bytes)",
        "metric": "replication_lag_bytes",
        "comparison": "gt",
        "threshold": 256 * MB,
        "severity": "warning",
        "description": "A standby's replay position more than 256 MB of WAL "
        "behind its primary's (pg_stat_replication on the primary): reads "
        "there see old data, and a failover would lose time replaying.",
    },
    {
        "name": "Replication lag (seconds)",
        "metric": "replication_lag_s",
        "comparison": "gt",
        "threshold": 300,
        "severity": "warning",
        "description": "A standby more than 5 minutes behind: the primary's "
        "replay_lag, or the standby's own replay delay (a paused replay, "
        "replay conflicts, a slow disk).",
    },
    {
        "name": "Inactive replication slot keeping WAL",
        "metric": "inactive_slot_bytes",
        "comparison": "gt",
        "threshold": 1024 * MB,
        "severity": "critical",
        "description": "A replication slot nobody uses keeps more than 1 GB of "
        "WAL, which grows until the disk is full: drop the slot "
        "(pg_drop_replication_slot) or bring its consumer back.",
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
    dependencies = [("alerts", "0004_rule_window_minutes")]

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
                ],
                max_length=40,
            ),
        ),
        migrations.RunPython(seed_rules, remove_rules),
    ]
