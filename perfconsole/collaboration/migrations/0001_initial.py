"""The collaboration schema: tables, constraints and foreign keys.

The seed's indexes, functions and view come in 0002 (the performance
migration).
"""

import uuid

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from perfconsole.collaboration.sqlfiles import load_sql


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Organization",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("name", models.CharField(max_length=200)),
                ("slug", models.SlugField(max_length=100, unique=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "db_table": "organizations",
                "ordering": ["slug"],
            },
        ),
        migrations.CreateModel(
            name="ProductUser",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("email", models.EmailField(max_length=254, unique=True)),
                ("full_name", models.CharField(max_length=200)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "verbose_name": "product user",
                "db_table": "users",
                "ordering": ["email"],
            },
        ),
        migrations.CreateModel(
            name="Study",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("title", models.CharField(max_length=300)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("draft", "Draft"),
                            ("active", "Active"),
                            ("in_review", "In Review"),
                            ("completed", "Completed"),
                            ("archived", "Archived"),
                        ],
                        default="draft",
                        max_length=20,
                    ),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        db_column="created_by",
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="collaboration.productuser",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        db_column="organization_id",
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="studies",
                        to="collaboration.organization",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "studies",
                "db_table": "studies",
            },
        ),
        migrations.CreateModel(
            name="CollaborationActivity",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "activity_type",
                    models.CharField(
                        choices=[
                            ("study_created", "Study Created"),
                            ("status_changed", "Status Changed"),
                            ("collaborator_added", "Collaborator Added"),
                            ("file_uploaded", "File Uploaded"),
                            ("comment_added", "Comment Added"),
                            ("comment_resolved", "Comment Resolved"),
                            ("review_requested", "Review Requested"),
                            ("review_completed", "Review Completed"),
                        ],
                        max_length=40,
                    ),
                ),
                ("details", models.JSONField(blank=True, default=dict)),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        db_column="user_id",
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="collaboration.productuser",
                    ),
                ),
                (
                    "study",
                    models.ForeignKey(
                        db_column="study_id",
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="activity",
                        to="collaboration.study",
                    ),
                ),
            ],
            options={
                "verbose_name": "collaboration activity",
                "verbose_name_plural": "collaboration activity",
                "db_table": "collaboration_activity",
            },
        ),
        migrations.CreateModel(
            name="StudyCollaborator",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "role",
                    models.CharField(
                        choices=[
                            ("owner", "Owner"),
                            ("editor", "Editor"),
                            ("reviewer", "Reviewer"),
                            ("viewer", "Viewer"),
                        ],
                        default="viewer",
                        max_length=20,
                    ),
                ),
                ("permissions", models.JSONField(blank=True, default=dict)),
                ("added_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "added_by",
                    models.ForeignKey(
                        blank=True,
                        db_column="added_by",
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="collaboration.productuser",
                    ),
                ),
                (
                    "study",
                    models.ForeignKey(
                        db_column="study_id",
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="collaborators",
                        to="collaboration.study",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        db_column="user_id",
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="collaborations",
                        to="collaboration.productuser",
                    ),
                ),
            ],
            options={
                "verbose_name": "study collaborator",
                "db_table": "study_collaborators",
            },
        ),
        migrations.CreateModel(
            name="OrganizationMember",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "role",
                    models.CharField(
                        choices=[
                            ("owner", "Owner"),
                            ("admin", "Admin"),
                            ("member", "Member"),
                            ("viewer", "Viewer"),
                        ],
                        default="member",
                        max_length=20,
                    ),
                ),
                ("joined_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "organization",
                    models.ForeignKey(
                        db_column="organization_id",
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="memberships",
                        to="collaboration.organization",
                    ),
                ),
                (
                    "invited_by",
                    models.ForeignKey(
                        blank=True,
                        db_column="invited_by",
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="collaboration.productuser",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        db_column="user_id",
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="memberships",
                        to="collaboration.productuser",
                    ),
                ),
            ],
            options={
                "verbose_name": "organization member",
                "db_table": "organization_members",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organization", "user"),
                        name="organization_members_org_user_uniq",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("role__in", ["owner", "admin", "member", "viewer"])
                        ),
                        name="organization_members_role_check",
                    ),
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="study",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        ["draft", "active", "in_review", "completed", "archived"],
                    )
                ),
                name="studies_status_check",
            ),
        ),
        migrations.AddConstraint(
            model_name="collaborationactivity",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "activity_type__in",
                        [
                            "study_created",
                            "status_changed",
                            "collaborator_added",
                            "file_uploaded",
                            "comment_added",
                            "comment_resolved",
                            "review_requested",
                            "review_completed",
                        ],
                    )
                ),
                name="collaboration_activity_type_check",
            ),
        ),
        migrations.AddConstraint(
            model_name="studycollaborator",
            constraint=models.UniqueConstraint(
                fields=("study", "user"), name="study_collaborators_study_user_uniq"
            ),
        ),
        migrations.AddConstraint(
            model_name="studycollaborator",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("role__in", ["owner", "editor", "reviewer", "viewer"])
                ),
                name="study_collaborators_role_check",
            ),
        ),
        migrations.RunSQL(
            load_sql("schema/foreign_keys_v1.sql"),
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
