"""Statistics views v2: a table or index locked exclusively by another
session has no size (and an index no definition) instead of blocking the
whole view; size_locked_by names the session."""

from django.db import migrations, models

# Version 2 added a column; CREATE OR REPLACE cannot take it away again.
CHANGED_VIEWS = ("index_usage_stats", "table_performance_stats")


def create_views(apps, schema_editor):
    from perfconsole.monitoring.statviews import sync_views

    sync_views(version=2, using=schema_editor.connection.alias)


def restore_views(apps, schema_editor):
    from perfconsole.monitoring.statviews import sync_views

    for name in CHANGED_VIEWS:
        schema_editor.execute(f"DROP VIEW IF EXISTS {name}")
    sync_views(version=1, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0002_explain_permission"),
    ]

    operations = [
        migrations.AlterField(
            model_name="indexusage",
            name="index_size_bytes",
            field=models.BigIntegerField(null=True, verbose_name="size"),
        ),
        migrations.AlterField(
            model_name="indexusage",
            name="definition",
            field=models.TextField(null=True),
        ),
        migrations.AddField(
            model_name="indexusage",
            name="size_locked_by",
            field=models.IntegerField(null=True, verbose_name="size locked by"),
        ),
        migrations.AlterField(
            model_name="tableperformance",
            name="table_size_bytes",
            field=models.BigIntegerField(null=True, verbose_name="table size"),
        ),
        migrations.AlterField(
            model_name="tableperformance",
            name="indexes_size_bytes",
            field=models.BigIntegerField(null=True, verbose_name="indexes size"),
        ),
        migrations.AlterField(
            model_name="tableperformance",
            name="toast_size_bytes",
            field=models.BigIntegerField(null=True, verbose_name="TOAST size"),
        ),
        migrations.AlterField(
            model_name="tableperformance",
            name="total_size_bytes",
            field=models.BigIntegerField(null=True, verbose_name="total size"),
        ),
        migrations.AddField(
            model_name="tableperformance",
            name="size_locked_by",
            field=models.IntegerField(null=True, verbose_name="size locked by"),
        ),
        migrations.RunPython(create_views, restore_views),
    ]
