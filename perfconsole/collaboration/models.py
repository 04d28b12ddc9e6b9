"""The product's collaboration schema, with the seed's table names (TARGETS.md).

Foreign keys are declared without Django's own constraint and with
DO_NOTHING: the database owns referential integrity and ON DELETE, through
constraints added in migration 0001 (sql/schema/foreign_keys_v1.sql). That
keeps deletes of a large organization a single statement instead of a Python
cascade over millions of rows.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

# The schema's tables, parents before children (the order COPY loads them).
COLLABORATION_TABLES = [
    "organizations",
    "users",
    "organization_members",
    "studies",
    "study_collaborators",
    "collaboration_activity",
]
# The activity rollup get_organization_analytics reads (migration 0005),
# rebuilt by refresh_organization_activity_rollup(); listed, refreshed and
# recorded under ROLLUP_NAME like a materialized view.
ROLLUP_NAME = "organization_activity_rollup"
ROLLUP_TABLES = [
    "organization_activity_hourly",
    "organization_member_last_activity",
    "organization_activity_rollup_dirty",
    "organization_activity_rollup_state",
    # Kept by triggers, not rebuilt (migrations 0012, 0015); vacuumed with the
    # rest.
    "organization_member_counts",
    "organization_member_activity_hourly",
    "user_collaborative_studies",
]


# The domain's values: the fields' choices, the CHECK constraints, the demo
# data and the benchmark's parameters all come from these.
class MemberRole(models.TextChoices):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


class StudyStatus(models.TextChoices):
    DRAFT = "draft"
    ACTIVE = "active"
    IN_REVIEW = "in_review"
    COMPLETED = "completed"
    ARCHIVED = "archived"


class CollaboratorRole(models.TextChoices):
    OWNER = "owner"
    EDITOR = "editor"
    REVIEWER = "reviewer"
    VIEWER = "viewer"


class ActivityType(models.TextChoices):
    STUDY_CREATED = "study_created"
    STATUS_CHANGED = "status_changed"
    COLLABORATOR_ADDED = "collaborator_added"
    FILE_UPLOADED = "file_uploaded"
    COMMENT_ADDED = "comment_added"
    COMMENT_RESOLVED = "comment_resolved"
    REVIEW_REQUESTED = "review_requested"
    REVIEW_COMPLETED = "review_completed"


class SeedIndex(models.Index):
    """An index whose name is the seed's, longer than Django's 30-char default."""

    # PostgreSQL allows 63 bytes; the seed's names are up to 39 characters.
    max_name_length = 63


def _foreign_key(to, column, *, null=False, related_name="+", **kwargs):
    """Return a FK whose constraint and ON DELETE live in the database."""
    return models.ForeignKey(
        to,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        db_column=column,
        null=null,
        blank=null,
        related_name=related_name,
        **kwargs,
    )


class ProductUser(models.Model):
    """A user of the product (not a staff account of this console)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254, unique=True)
    full_name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "users"
        verbose_name = "product user"
        ordering = ["email"]

    def __str__(self):
        return self.email


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "organizations"
        ordering = ["slug"]

    def __str__(self):
        return self.name


class OrganizationMember(models.Model):
    Role = MemberRole

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = _foreign_key(
        Organization, "organization_id", related_name="memberships"
    )
    user = _foreign_key(ProductUser, "user_id", related_name="memberships")
    role = models.CharField(max_length=20, choices=Role, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)
    invited_by = _foreign_key(ProductUser, "invited_by", null=True)

    class Meta:
        db_table = "organization_members"
        verbose_name = "organization member"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"],
                name="organization_members_org_user_uniq",
            ),
            models.CheckConstraint(
                condition=Q(role__in=MemberRole.values),
                name="organization_members_role_check",
            ),
        ]
        indexes = [
            # Which organizations a user belongs to, and with what role.
            SeedIndex(
                fields=["user", "organization", "role"],
                include=["joined_at", "invited_by"],
                name="idx_organization_members_user_lookup",
            ),
            # The members of an organization, by role.
            SeedIndex(
                fields=["organization", "role"],
                include=["user", "joined_at"],
                name="idx_organization_members_org_role",
            ),
            # The admin's list, in its exact order (id breaks ties).
            models.Index(
                fields=["organization", "role", "-id"],
                name="organization_members_by_role",
            ),
            # Foreign keys: deleting a user looks up the rows that point at it.
            SeedIndex(
                fields=["invited_by"],
                condition=Q(invited_by__isnull=False),
                name="idx_organization_members_invited_by",
            ),
        ]

    def __str__(self):
        return f"{self.user_id} in {self.organization_id} ({self.role})"


class Study(models.Model):
    Status = StudyStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = _foreign_key(Organization, "organization_id", related_name="studies")
    title = models.CharField(max_length=300)
    status = models.CharField(max_length=20, choices=Status, default=Status.DRAFT)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = _foreign_key(ProductUser, "created_by", null=True)

    class Meta:
        db_table = "studies"
        verbose_name_plural = "studies"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=StudyStatus.values),
                name="studies_status_check",
            ),
        ]
        indexes = [
            # An organization's studies by status, newest first.
            SeedIndex(
                fields=["organization", "status", "-created_at"],
                include=["title", "created_by"],
                name="idx_studies_organization_lookup",
            ),
            SeedIndex(
                fields=["created_by"],
                condition=Q(created_by__isnull=False),
                name="idx_studies_created_by",
            ),
        ]

    def __str__(self):
        return self.title


class StudyCollaborator(models.Model):
    Role = CollaboratorRole

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    study = _foreign_key(Study, "study_id", related_name="collaborators")
    user = _foreign_key(ProductUser, "user_id", related_name="collaborations")
    role = models.CharField(max_length=20, choices=Role, default=Role.VIEWER)
    permissions = models.JSONField(default=dict, blank=True)
    added_at = models.DateTimeField(default=timezone.now)
    added_by = _foreign_key(ProductUser, "added_by", null=True)

    class Meta:
        db_table = "study_collaborators"
        verbose_name = "study collaborator"
        constraints = [
            models.UniqueConstraint(
                fields=["study", "user"], name="study_collaborators_study_user_uniq"
            ),
            models.CheckConstraint(
                condition=Q(role__in=CollaboratorRole.values),
                name="study_collaborators_role_check",
            ),
        ]
        indexes = [
            # Permission check: may this user do X on this study?
            SeedIndex(
                fields=["study", "user", "role"],
                include=["permissions", "added_at", "added_by"],
                name="idx_study_collaborators_performance",
            ),
            # The studies a user collaborates on.
            SeedIndex(
                fields=["user", "role"],
                include=["study", "permissions", "added_at"],
                name="idx_study_collaborators_user_studies",
            ),
            SeedIndex(
                fields=["added_by"],
                condition=Q(added_by__isnull=False),
                name="idx_study_collaborators_added_by",
            ),
        ]

    def __str__(self):
        return f"{self.user_id} on {self.study_id} ({self.role})"


class CollaborationActivity(models.Model):
    ActivityType = ActivityType

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    study = _foreign_key(Study, "study_id", related_name="activity")
    user = _foreign_key(ProductUser, "user_id", null=True)
    created_at = models.DateTimeField(default=timezone.now)
    activity_type = models.CharField(max_length=40, choices=ActivityType)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "collaboration_activity"
        verbose_name = "collaboration activity"
        verbose_name_plural = "collaboration activity"
        constraints = [
            models.CheckConstraint(
                condition=Q(activity_type__in=ActivityType.values),
                name="collaboration_activity_type_check",
            ),
        ]
        indexes = [
            # A study's activity feed, newest first.
            SeedIndex(
                fields=["study", "-created_at", "activity_type"],
                include=["user", "details"],
                name="idx_collaboration_activity_timeline",
            ),
            # The newest activity across all studies (the admin's list).
            models.Index(fields=["-created_at"], name="collaboration_activity_created"),
            # The admin's list filtered by type, newest first.
            models.Index(
                fields=["activity_type", "-created_at"],
                name="collaboration_activity_type",
            ),
            # A user's activity; deleting a user sets it to NULL through this.
            SeedIndex(
                fields=["user"],
                condition=Q(user__isnull=False),
                name="idx_collaboration_activity_user",
            ),
        ]

    def __str__(self):
        return f"{self.activity_type} on {self.study_id}"


class TeamProductivityAnalytics(models.Model):
    """One row per organization from the materialized view (read-only)."""

    organization = models.OneToOneField(
        Organization,
        on_delete=models.DO_NOTHING,
        primary_key=True,
        db_constraint=False,
        related_name="+",
    )
    organization_name = models.CharField(max_length=200)
    member_count = models.BigIntegerField()
    studies_created = models.BigIntegerField()
    collaborators = models.BigIntegerField()
    activity_last_7_days = models.BigIntegerField()
    activity_last_30_days = models.BigIntegerField()
    last_activity_at = models.DateTimeField(null=True)
    computed_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "team_productivity_analytics"
        verbose_name = "team productivity"
        verbose_name_plural = "team productivity analytics"

    def __str__(self):
        return self.organization_name
