"""Make the baseline table unlogged, with room for updates in its pages."""

from django.db import migrations

from perfconsole.history.sqlfiles import read_sql


class Migration(migrations.Migration):
    dependencies = [("history", "0003_no_foreign_key_checks")]

    operations = [
        migrations.RunSQL(
            read_sql("schema/baseline_unlogged_v1.sql"),
            read_sql("schema/baseline_logged_v1.sql"),
        )
    ]
