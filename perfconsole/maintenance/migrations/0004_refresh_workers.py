"""Record each refresh's backend, list view owners, add the tasks cache.

The backend pid and maintenance_running_refresh (sql/views/) tell a refresh
whose worker is gone from one still running; the owner columns (SQL view v3)
let the console refresh only its own views; the cache table holds the task
cluster's heartbeat.
"""

from django.db import migrations, models

from perfconsole.maintenance.sqlfiles import read_sql


class Migration(migrations.Migration):
    dependencies = [("maintenance", "0003_materialized_view_v2")]

    operations = [
        migrations.AddField(
            model_name="viewrefresh",
            name="backend_pid",
            field=models.IntegerField(blank=True, null=True),
        ),
        migrations.RunSQL(
            read_sql("views/materialized_views_v3.sql"),
            # v3 added columns, which CREATE OR REPLACE cannot take away.
            reverse_sql=[
                "DROP VIEW maintenance_materialized_view",
                read_sql("views/materialized_views_v2.sql"),
            ],
        ),
        migrations.AddField(
            model_name="materializedview",
            name="owner",
            field=models.CharField(default="", max_length=200),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="materializedview",
            name="owned",
            field=models.BooleanField(default=True),
            preserve_default=False,
        ),
        migrations.RunSQL(
            read_sql("views/running_refreshes_v1.sql"),
            reverse_sql="DROP VIEW maintenance_running_refresh",
        ),
        migrations.RunSQL(
            [
                read_sql("tables/task_cache_v1.sql"),
                read_sql("indexes/task_cache_expires_v1.sql"),
            ],
            reverse_sql="DROP TABLE IF EXISTS perfconsole_task_cache",
        ),
    ]
