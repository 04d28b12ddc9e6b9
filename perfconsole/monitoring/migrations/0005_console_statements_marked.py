"""Statistics views v3: query_stats keeps the console's own statements,
marked by is_console, so the query table can show them on request."""

from django.db import migrations, models

# Version 3 added a column; CREATE OR REPLACE cannot take it away again.
CHANGED_VIEWS = ("slow_queries", "query_stats")


def create_views(apps, schema_editor):
    from perfconsole.monitoring.statviews import sync_views

    sync_views(version=3, using=schema_editor.connection.alias)


def restore_views(apps, schema_editor):
    from perfconsole.monitoring.statviews import sync_views

    for name in CHANGED_VIEWS:
        schema_editor.execute(f"DROP VIEW IF EXISTS {name}")
    sync_views(version=2, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0004_reset_permissions"),
    ]

    operations = [
        migrations.AddField(
            model_name="querystat",
            name="is_console",
            field=models.BooleanField(null=True, verbose_name="the console's own"),
        ),
        migrations.AddField(
            model_name="slowquery",
            name="is_console",
            field=models.BooleanField(null=True, verbose_name="the console's own"),
        ),
        migrations.RunPython(create_views, restore_views),
    ]
