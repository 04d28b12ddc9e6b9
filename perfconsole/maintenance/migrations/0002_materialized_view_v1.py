"""Create the SQL view behind MaterializedView from sql/views/ (version 1)."""

from django.db import migrations

from perfconsole.maintenance.sqlfiles import read_sql


class Migration(migrations.Migration):
    dependencies = [("maintenance", "0001_initial")]

    operations = [
        migrations.RunSQL(
            read_sql("views/materialized_views_v1.sql"),
            reverse_sql="DROP VIEW IF EXISTS maintenance_materialized_view",
        )
    ]
