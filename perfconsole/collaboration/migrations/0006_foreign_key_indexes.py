"""Indexes for the foreign keys to users that had none.

Deleting a user makes PostgreSQL find every row that points at it, to set
it to NULL: without these that is a sequential scan of each table per user
(the health check `unindexed_foreign_keys` reports such keys). Partial, WHERE
the column IS NOT NULL, which is all those lookups need. Built like the seed's
indexes: concurrently, under a short lock_timeout, rebuilt if left INVALID.
"""

from django.db import migrations, models

from perfconsole.collaboration.models import SeedIndex
from perfconsole.collaboration.operations import BuildIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("collaboration", "0005_activity_rollup"),
    ]

    operations = [
        BuildIndexConcurrently(
            model_name="organizationmember",
            index=SeedIndex(
                fields=["invited_by"],
                condition=models.Q(invited_by__isnull=False),
                name="idx_organization_members_invited_by",
            ),
            sql_file="indexes/idx_organization_members_invited_by_v1.sql",
        ),
        BuildIndexConcurrently(
            model_name="study",
            index=SeedIndex(
                fields=["created_by"],
                condition=models.Q(created_by__isnull=False),
                name="idx_studies_created_by",
            ),
            sql_file="indexes/idx_studies_created_by_v1.sql",
        ),
        BuildIndexConcurrently(
            model_name="studycollaborator",
            index=SeedIndex(
                fields=["added_by"],
                condition=models.Q(added_by__isnull=False),
                name="idx_study_collaborators_added_by",
            ),
            sql_file="indexes/idx_study_collaborators_added_by_v1.sql",
        ),
        BuildIndexConcurrently(
            model_name="collaborationactivity",
            index=SeedIndex(
                fields=["user"],
                condition=models.Q(user__isnull=False),
                name="idx_collaboration_activity_user",
            ),
            sql_file="indexes/idx_collaboration_activity_user_v1.sql",
        ),
    ]
