"""The activity rollup and get_organization_analytics v3, which reads it.

v3 answers from hourly per-organization rollup rows plus the raw rows at the
window's edges, so its cost no longer grows with an organization's activity
(see sql/functions/get_organization_analytics_v3.sql). The rollup starts
empty: until refresh_organization_activity_rollup() first runs (seeddemo and
the refresh-activity-rollup schedule run it), v3 answers from the raw rows.

Atomic: the triggers need a brief lock on collaboration_activity and studies,
taken under a lock_timeout, so a busy table fails the migration cleanly
instead of queueing writers behind it.
"""

from django.db import migrations

from perfconsole.collaboration.operations import LOCK_TIMEOUT
from perfconsole.collaboration.sqlfiles import load_sql

TRIGGERS = [
    ("collaboration_activity_rollup_insert", "collaboration_activity"),
    ("collaboration_activity_rollup_update", "collaboration_activity"),
    ("collaboration_activity_rollup_delete", "collaboration_activity"),
    ("collaboration_activity_rollup_truncate", "collaboration_activity"),
    ("studies_rollup_update", "studies"),
    ("studies_rollup_delete", "studies"),
    ("studies_rollup_truncate", "studies"),
]
TRIGGER_FUNCTIONS = [
    "collaboration_activity_rollup_inserted()",
    "collaboration_activity_rollup_changed()",
    "studies_rollup_changed()",
    "activity_rollup_truncated()",
]


class Migration(migrations.Migration):
    dependencies = [
        ("collaboration", "0004_functions_v2"),
    ]

    operations = [
        migrations.RunSQL(
            [f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"], reverse_sql=[]
        ),
        migrations.RunSQL(
            [load_sql("rollup/organization_activity_rollup_v1.sql")],
            reverse_sql=[
                "DROP TABLE organization_activity_rollup_dirty,"
                " organization_member_last_activity, organization_activity_hourly,"
                " organization_activity_rollup_state"
            ],
        ),
        migrations.RunSQL(
            [
                load_sql("functions/organization_rollup_covered_until_v1.sql"),
                load_sql("functions/organization_activity_scan_v1.sql"),
                load_sql("functions/refresh_organization_activity_rollup_v1.sql"),
            ],
            reverse_sql=[
                "DROP FUNCTION"
                " refresh_organization_activity_rollup(boolean, timestamptz),"
                " organization_activity_scan(uuid, timestamptz, timestamptz),"
                " organization_rollup_covered_until(uuid)"
            ],
        ),
        migrations.RunSQL(
            [load_sql("triggers/organization_activity_rollup_triggers_v1.sql")],
            reverse_sql=[
                *(f"DROP TRIGGER {name} ON {table}" for name, table in TRIGGERS),
                f"DROP FUNCTION {', '.join(TRIGGER_FUNCTIONS)}",
            ],
        ),
        migrations.RunSQL(
            [load_sql("functions/get_organization_analytics_v3.sql")],
            reverse_sql=[
                f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'",
                load_sql("functions/get_organization_analytics_v2.sql"),
            ],
        ),
    ]
