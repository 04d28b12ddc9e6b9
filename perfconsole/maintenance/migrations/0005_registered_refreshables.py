"""List the refreshables apps register in code (SQL view v4).

v4 reads them from maintenance_registered_refreshable, which the registry
writes after every migrate, and each one's state from the SQL function it
names, so this app's SQL no longer names any other app's tables (v2 and v3
did, hence 0003's dependency on another app, which stays for them).
"""

from django.db import migrations, models

from perfconsole.maintenance.sqlfiles import read_sql


class Migration(migrations.Migration):
    dependencies = [("maintenance", "0004_refresh_workers")]

    operations = [
        migrations.CreateModel(
            name="RegisteredRefreshable",
            fields=[
                (
                    "name",
                    models.CharField(max_length=200, primary_key=True, serialize=False),
                ),
                ("kind", models.CharField(max_length=40)),
                ("state_function", models.CharField(blank=True, max_length=200)),
            ],
            options={
                "db_table": "maintenance_registered_refreshable",
                "default_permissions": (),
            },
        ),
        migrations.RunSQL(
            read_sql("functions/registered_refreshables_v1.sql"),
            reverse_sql="DROP FUNCTION maintenance_registered_refreshables()",
        ),
        migrations.RunSQL(
            read_sql("views/materialized_views_v4.sql"),
            reverse_sql=read_sql("views/materialized_views_v3.sql"),
        ),
    ]
