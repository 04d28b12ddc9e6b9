"""get_user_collaborative_studies v4: each study's figures kept by triggers.

user_collaborative_studies (see sql/rollup/user_collaborative_studies_v1.sql)
is created, filled from the tables it summarizes and kept exact from then on
by statement-level triggers on study_collaborators, collaboration_activity
and studies. Both forms of the function read it through its order index.

Atomic: the three tables are locked against writes (SHARE ROW EXCLUSIVE,
which CREATE TRIGGER takes anyway) from before the backfill until the
triggers exist and commit, under a lock_timeout, so a busy table fails the
migration cleanly instead of queueing writers behind it. At `large` (563 000
collaborators, 5 million activity rows) the backfill holds them for a few
seconds. Reversing puts v3 and the paged v1 back and drops the triggers and
the table.
"""

from django.db import migrations

from perfconsole.collaboration.operations import LOCK_TIMEOUT
from perfconsole.collaboration.sqlfiles import load_sql

TABLES = "study_collaborators, collaboration_activity, studies"
TRIGGERS = [
    ("study_collaborators_list_insert", "study_collaborators"),
    ("study_collaborators_list_update", "study_collaborators"),
    ("study_collaborators_list_delete", "study_collaborators"),
    ("study_collaborators_list_truncate", "study_collaborators"),
    ("collaboration_activity_list_insert", "collaboration_activity"),
    ("collaboration_activity_list_update", "collaboration_activity"),
    ("collaboration_activity_list_delete", "collaboration_activity"),
    ("collaboration_activity_list_truncate", "collaboration_activity"),
    ("studies_list_update", "studies"),
]
FUNCTIONS = [
    "user_collaborative_studies_rows_changed()",
    "user_collaborative_studies_activity_added()",
    "user_collaborative_studies_study_changed()",
    "user_collaborative_studies_emptied()",
    "user_collaborative_studies_activity_truncated()",
    "user_collaborative_studies_rebuild(uuid[])",
]


class Migration(migrations.Migration):
    dependencies = [
        ("collaboration", "0014_organization_analytics_window_v2"),
    ]

    operations = [
        migrations.RunSQL(
            [
                f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'",
                f"LOCK TABLE {TABLES} IN SHARE ROW EXCLUSIVE MODE",
            ],
            reverse_sql=[],
        ),
        migrations.RunSQL(
            [load_sql("rollup/user_collaborative_studies_v1.sql")],
            reverse_sql=["DROP TABLE user_collaborative_studies"],
        ),
        migrations.RunSQL(
            [
                load_sql("triggers/user_collaborative_studies_triggers_v1.sql"),
                "SELECT user_collaborative_studies_rebuild(NULL)",
                "ANALYZE user_collaborative_studies",
            ],
            reverse_sql=[
                f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'",
                *(f"DROP TRIGGER {name} ON {table}" for name, table in TRIGGERS),
                f"DROP FUNCTION {', '.join(FUNCTIONS)}",
            ],
        ),
        migrations.RunSQL(
            [
                load_sql("functions/get_user_collaborative_studies_v4.sql"),
                load_sql("functions/get_user_collaborative_studies_paged_v2.sql"),
            ],
            reverse_sql=[
                load_sql("functions/get_user_collaborative_studies_v3.sql"),
                load_sql("functions/get_user_collaborative_studies_paged_v1.sql"),
            ],
        ),
    ]
