"""The performance migration: the seed's six indexes, two functions and view.

Non-atomic: each index is built with CREATE INDEX CONCURRENTLY (writers keep
writing) under a short lock_timeout, one statement per operation. Running it
again after a failed or interrupted build drops the INVALID index left
behind and builds it again. The SQL lives in ../sql/ (see performance.py).
"""

from django.db import migrations, models

from perfconsole.collaboration.models import SeedIndex
from perfconsole.collaboration.operations import BuildIndexConcurrently
from perfconsole.collaboration.sqlfiles import load_sql


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("collaboration", "0001_initial"),
    ]

    operations = [
        BuildIndexConcurrently(
            model_name="organizationmember",
            index=SeedIndex(
                fields=["user", "organization", "role"],
                include=("joined_at", "invited_by"),
                name="idx_organization_members_user_lookup",
            ),
            sql_file="indexes/idx_organization_members_user_lookup_v1.sql",
        ),
        BuildIndexConcurrently(
            model_name="organizationmember",
            index=SeedIndex(
                fields=["organization", "role"],
                include=("user", "joined_at"),
                name="idx_organization_members_org_role",
            ),
            sql_file="indexes/idx_organization_members_org_role_v1.sql",
        ),
        BuildIndexConcurrently(
            model_name="studycollaborator",
            index=SeedIndex(
                fields=["study", "user", "role"],
                include=("permissions", "added_at", "added_by"),
                name="idx_study_collaborators_performance",
            ),
            sql_file="indexes/idx_study_collaborators_performance_v1.sql",
        ),
        BuildIndexConcurrently(
            model_name="studycollaborator",
            index=SeedIndex(
                fields=["user", "role"],
                include=("study", "permissions", "added_at"),
                name="idx_study_collaborators_user_studies",
            ),
            sql_file="indexes/idx_study_collaborators_user_studies_v1.sql",
        ),
        BuildIndexConcurrently(
            model_name="collaborationactivity",
            index=SeedIndex(
                fields=["study", "-created_at", "activity_type"],
                include=("user", "details"),
                name="idx_collaboration_activity_timeline",
            ),
            sql_file="indexes/idx_collaboration_activity_timeline_v1.sql",
        ),
        BuildIndexConcurrently(
            model_name="study",
            index=SeedIndex(
                fields=["organization", "status", "-created_at"],
                include=("title", "created_by"),
                name="idx_studies_organization_lookup",
            ),
            sql_file="indexes/idx_studies_organization_lookup_v1.sql",
        ),
        migrations.RunSQL(
            [load_sql("functions/get_user_collaborative_studies_v1.sql")],
            reverse_sql=[
                "DROP FUNCTION IF EXISTS get_user_collaborative_studies(uuid)"
            ],
        ),
        migrations.RunSQL(
            [load_sql("functions/get_organization_analytics_v1.sql")],
            reverse_sql=[
                "DROP FUNCTION IF EXISTS get_organization_analytics(uuid, integer)"
            ],
        ),
        migrations.RunSQL(
            load_sql("views/team_productivity_analytics_v1.sql"),
            reverse_sql=[
                "DROP MATERIALIZED VIEW IF EXISTS team_productivity_analytics"
            ],
        ),
        migrations.CreateModel(
            name="TeamProductivityAnalytics",
            fields=[
                (
                    "organization",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="collaboration.organization",
                    ),
                ),
                ("organization_name", models.CharField(max_length=200)),
                ("member_count", models.BigIntegerField()),
                ("studies_created", models.BigIntegerField()),
                ("collaborators", models.BigIntegerField()),
                ("activity_last_7_days", models.BigIntegerField()),
                ("activity_last_30_days", models.BigIntegerField()),
                ("last_activity_at", models.DateTimeField(null=True)),
                ("computed_at", models.DateTimeField()),
            ],
            options={
                "verbose_name": "team productivity",
                "verbose_name_plural": "team productivity analytics",
                "db_table": "team_productivity_analytics",
                "managed": False,
            },
        ),
    ]
