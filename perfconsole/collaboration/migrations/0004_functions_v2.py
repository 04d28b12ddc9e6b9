"""Faster bodies of the seed's functions, same signatures and results.

get_organization_analytics v2 reads the window once (see its SQL file).
Reversing puts the v1 bodies back.
"""

from django.db import migrations

from perfconsole.collaboration.sqlfiles import load_sql


class Migration(migrations.Migration):
    dependencies = [
        ("collaboration", "0003_activity_created_at_index"),
    ]

    operations = [
        migrations.RunSQL(
            [load_sql("functions/get_organization_analytics_v2.sql")],
            reverse_sql=[load_sql("functions/get_organization_analytics_v1.sql")],
        ),
    ]
