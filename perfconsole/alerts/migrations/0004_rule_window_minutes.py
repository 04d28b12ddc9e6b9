"""Alert rules get a window: the last minutes of the statistics history."""

import django.core.validators
from django.db import migrations, models

# A query that regressed ten minutes ago should fire: the slow-query rule
# judges a quarter of an hour; rates (cache hits, scans) smooth over an hour.
SEEDED_WINDOWS = {"Slow critical query": 15}


def set_seeded_windows(apps, schema_editor):
    """Give the seeded rules their window, unless someone edited them."""
    AlertRule = apps.get_model("alerts", "AlertRule")
    for name, minutes in SEEDED_WINDOWS.items():
        AlertRule.objects.filter(name=name, window_minutes=60).update(
            window_minutes=minutes
        )


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0003_alert_detail_help_text"),
    ]

    operations = [
        migrations.AddField(
            model_name="alertrule",
            name="window_minutes",
            field=models.PositiveIntegerField(
                default=60,
                help_text="Query, cache hit, index usage and sequential-scan rules "
                "judge the last this many minutes of the statistics history "
                "(lifetime counters while the history does not cover them yet).",
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(43200),
                ],
            ),
        ),
        migrations.RunPython(set_seeded_windows, migrations.RunPython.noop),
    ]
