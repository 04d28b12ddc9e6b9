"""The activity rollup's state, for the console's list of refreshables.

The rollup is registered with the maintenance app from
CollaborationConfig.ready() (refreshables.py); the list reads its state from
this function by name.
"""

from django.db import migrations

from perfconsole.collaboration.sqlfiles import load_sql


class Migration(migrations.Migration):
    dependencies = [
        ("collaboration", "0006_foreign_key_indexes"),
    ]

    operations = [
        migrations.RunSQL(
            [load_sql("functions/organization_activity_rollup_state_v1.sql")],
            reverse_sql=["DROP FUNCTION organization_activity_rollup_state()"],
        ),
    ]
