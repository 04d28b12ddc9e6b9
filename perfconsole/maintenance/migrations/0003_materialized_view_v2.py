"""List the activity rollup beside the materialized views (SQL view v2)."""

from django.db import migrations, models

from perfconsole.maintenance.sqlfiles import read_sql


class Migration(migrations.Migration):
    dependencies = [
        ("maintenance", "0002_materialized_view_v1"),
        ("collaboration", "0005_activity_rollup"),
    ]

    operations = [
        migrations.RunSQL(
            read_sql("views/materialized_views_v2.sql"),
            # v2 added a column, which CREATE OR REPLACE cannot take away.
            reverse_sql=[
                "DROP VIEW maintenance_materialized_view",
                read_sql("views/materialized_views_v1.sql"),
            ],
        ),
        migrations.AddField(
            model_name="materializedview",
            name="kind",
            field=models.CharField(default="materialized view", max_length=40),
            preserve_default=False,
        ),
    ]
