"""organization_analytics_window v2: the first hour's raw rows joined as a set.

Same results. Up to about 1 000 raw rows the planner joined them to studies
by primary key, four buffers a row; v2 joins them to the organization's
studies read once (see sql/functions/organization_analytics_window_v2.sql).
Reversing puts v1 back.
"""

from django.db import migrations

from perfconsole.collaboration.sqlfiles import load_sql


class Migration(migrations.Migration):
    dependencies = [
        ("collaboration", "0013_organization_analytics_window"),
    ]

    operations = [
        migrations.RunSQL(
            [load_sql("functions/organization_analytics_window_v2.sql")],
            reverse_sql=[load_sql("functions/organization_analytics_window_v1.sql")],
        ),
    ]
