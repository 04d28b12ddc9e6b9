"""get_organization_analytics v4: member counts kept by triggers, no member scan.

organization_member_counts and organization_member_activity_hourly (see
sql/rollup/organization_member_counts_v1.sql) are created, filled from the
tables they summarize and kept exact from then on by statement-level
triggers on organization_members and organization_member_last_activity.

Atomic: the two tables they summarize are locked against writes (SHARE ROW
EXCLUSIVE, which CREATE TRIGGER takes anyway) from before the backfill until
the triggers exist and commit, so no write falls between the two; the lock is
taken under a lock_timeout, so a busy table fails the migration cleanly
instead of queueing writers behind it. At `large` (a million members) the
backfill holds it about two seconds; no index is built on an existing table.
Reversing puts v3 back and drops the triggers and tables.
"""

from django.db import migrations

from perfconsole.collaboration.operations import LOCK_TIMEOUT
from perfconsole.collaboration.sqlfiles import load_sql

TRIGGERS = [
    ("organization_members_count_insert", "organization_members"),
    ("organization_members_count_update", "organization_members"),
    ("organization_members_count_delete", "organization_members"),
    ("organization_members_count_truncate", "organization_members"),
    (
        "organization_member_last_activity_count_insert",
        "organization_member_last_activity",
    ),
    (
        "organization_member_last_activity_count_update",
        "organization_member_last_activity",
    ),
    (
        "organization_member_last_activity_count_delete",
        "organization_member_last_activity",
    ),
    (
        "organization_member_last_activity_count_truncate",
        "organization_member_last_activity",
    ),
]
FUNCTIONS = [
    "organization_members_counted()",
    "organization_member_last_activity_counted()",
    "organization_members_truncated()",
    "organization_member_last_activity_truncated()",
    "organization_member_counts_add(uuid[], uuid[], integer[])",
    "organization_member_activity_add(uuid[], timestamptz[], integer[])",
]

BACKFILL = [
    "INSERT INTO organization_member_counts (organization_id, members)"
    " SELECT organization_id, count(*) FROM organization_members GROUP BY 1",
    "INSERT INTO organization_member_activity_hourly (organization_id, hour, members)"
    " SELECT l.organization_id, date_trunc('hour', l.last_activity_at, 'UTC'),"
    "        count(*)"
    "   FROM organization_member_last_activity AS l"
    "   JOIN organization_members AS m"
    "     ON m.organization_id = l.organization_id AND m.user_id = l.user_id"
    "  GROUP BY 1, 2",
    "ANALYZE organization_member_counts, organization_member_activity_hourly",
]


class Migration(migrations.Migration):
    dependencies = [
        ("collaboration", "0011_user_studies_v3"),
    ]

    operations = [
        migrations.RunSQL(
            [
                f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'",
                "LOCK TABLE organization_members, organization_member_last_activity"
                " IN SHARE ROW EXCLUSIVE MODE",
            ],
            reverse_sql=[],
        ),
        migrations.RunSQL(
            [load_sql("rollup/organization_member_counts_v1.sql")],
            reverse_sql=[
                "DROP TABLE organization_member_counts,"
                " organization_member_activity_hourly"
            ],
        ),
        migrations.RunSQL(
            [
                load_sql("triggers/organization_member_counts_triggers_v1.sql"),
                *BACKFILL,
            ],
            reverse_sql=[
                f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'",
                *(f"DROP TRIGGER {name} ON {table}" for name, table in TRIGGERS),
                f"DROP FUNCTION {', '.join(FUNCTIONS)}",
            ],
        ),
        migrations.RunSQL(
            [load_sql("functions/get_organization_analytics_v4.sql")],
            reverse_sql=[load_sql("functions/get_organization_analytics_v3.sql")],
        ),
    ]
