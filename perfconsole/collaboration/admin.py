"""Admin for the collaboration schema, fast with millions of rows.

Every changelist orders by an indexed column (and lets a user sort only by
such columns), joins its foreign keys in one query (list_select_related),
never counts a big table exactly (the paginator takes the planner's
estimate) and searches indexed columns only: an e-mail address (exact) or
an id.
"""

from __future__ import annotations

import json
import uuid

from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q
from django.utils.functional import cached_property

from perfconsole.collaboration.models import (
    CollaborationActivity,
    Organization,
    OrganizationMember,
    ProductUser,
    Study,
    StudyCollaborator,
    TeamProductivityAnalytics,
)
from perfconsole.core.admin import (
    CheckedAutocompleteMixin,
    LargestFirstChangeList,
    ReadOnlyAdminMixin,
)

# Below this many rows an exact count is cheap and nicer to read.
EXACT_COUNT_LIMIT = 20_000


def table_estimate(model) -> int:
    """Return the planner's row estimate for a model's table."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class"
            " WHERE oid = to_regclass(%s)",
            [model._meta.db_table],
        )
        row = cursor.fetchone()
    return row[0] if row else 0


def plan_estimate(queryset) -> int:
    """Return the planner's row estimate for a queryset (EXPLAIN, not run)."""
    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        statement, params = compiler.as_sql()
    except EmptyResultSet:
        # A condition that can match nothing (queryset.none()).
        return 0
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """A paginator that counts exactly only when the table is small."""

    @cached_property
    def count(self):
        queryset = self.object_list
        estimate = table_estimate(queryset.model)
        if estimate < EXACT_COUNT_LIMIT:
            return super().count
        if not queryset.query.where:
            return estimate
        return plan_estimate(queryset.order_by())


class IndexedOrderingChangeList(LargestFirstChangeList):
    """A changelist that ignores ?o= on columns outside sortable_by.

    The admin hides the other headers' sort links but still obeys a crafted
    URL; sorting a million rows by an unindexed column takes seconds.
    """

    def get_ordering(self, request, queryset):
        allowed = {
            str(position)
            for position, name in enumerate(self.list_display)
            if name in self.sortable_by
        }
        wanted = self.params.get(ORDER_VAR, "").split(".")
        kept = [part for part in wanted if part.rpartition("-")[2] in allowed]
        if kept:
            self.params[ORDER_VAR] = ".".join(kept)
        else:
            self.params.pop(ORDER_VAR, None)
        return super().get_ordering(request, queryset)


def parse_uuid(term: str) -> uuid.UUID | None:
    """Return the term as a UUID, or None."""
    try:
        return uuid.UUID(term.strip())
    except ValueError:
        return None


class BigTableAdmin(CheckedAutocompleteMixin, admin.ModelAdmin):
    """Common settings for the collaboration changelists."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    sortable_by = ()
    list_per_page = 50
    # Columns whose value identifies the row in a search: (uuid lookups).
    uuid_search = ("pk",)
    # A lookup that takes a user's e-mail address, if any.
    email_search: str | None = None

    def get_changelist(self, request, **kwargs):
        return IndexedOrderingChangeList

    def get_search_results(self, request, queryset, search_term):
        """Search indexed columns: ids (UUID) and e-mail addresses (exact)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        value = parse_uuid(term)
        if value is not None:
            condition = None
            for lookup in self.uuid_search:
                q = Q(**{lookup: value})
                condition = q if condition is None else condition | q
            return queryset.filter(condition), False
        if self.email_search and "@" in term:
            return queryset.filter(**{self.email_search: term.lower()}), False
        return queryset.none(), False


@admin.register(ProductUser)
class ProductUserAdmin(BigTableAdmin):
    list_display = ("email", "full_name", "created_at")
    search_fields = ("email",)
    search_help_text = "An e-mail address (exact) or a user id."
    email_search = "email"
    ordering = ("email",)
    sortable_by = ("email",)
    readonly_fields = ("id",)


@admin.register(Organization)
class OrganizationAdmin(BigTableAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("slug",)
    search_help_text = "A slug (exact) or an organization id."
    ordering = ("slug",)
    sortable_by = ("slug",)
    readonly_fields = ("id",)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if term and parse_uuid(term) is None:
            return queryset.filter(slug=term), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(OrganizationMember)
class OrganizationMemberAdmin(BigTableAdmin):
    # Who invited a member is on the member's page: the list fits a laptop.
    list_display = ("user", "organization", "role", "joined_at")
    list_filter = ("role",)
    list_select_related = ("user", "organization")
    autocomplete_fields = ("user", "organization", "invited_by")
    search_fields = ("user__email",)
    search_help_text = "A member's e-mail (exact), a user id or organization id."
    uuid_search = ("pk", "user_id", "organization_id")
    email_search = "user__email"
    # Served by idx_organization_members_org_role.
    ordering = ("organization_id", "role")
    sortable_by = ()


@admin.register(Study)
class StudyAdmin(BigTableAdmin):
    # Who created a study is on its page: the list fits a laptop.
    list_display = ("title", "organization", "status", "created_at")
    list_filter = ("status",)
    list_select_related = ("organization",)
    autocomplete_fields = ("organization", "created_by")
    search_fields = ("title",)
    search_help_text = "Words of a title, a study id or an organization id."
    uuid_search = ("pk", "organization_id")

    def get_search_results(self, request, queryset, search_term):
        # Studies are the one mid-sized table (about 10 per organization):
        # a title scan stays cheap, and autocomplete needs it.
        term = search_term.strip()
        if term and parse_uuid(term) is None:
            return queryset.filter(title__icontains=term), False
        return super().get_search_results(request, queryset, search_term)

    # Served by idx_studies_organization_lookup.
    ordering = ("organization_id", "status", "-created_at")
    # About 10 per organization: a sort by date stays cheap.
    sortable_by = ("created_at",)
    readonly_fields = ("id",)


@admin.register(StudyCollaborator)
class StudyCollaboratorAdmin(BigTableAdmin):
    # Who added a collaborator is on its page: the list fits a laptop.
    list_display = ("user", "study", "role", "added_at")
    list_filter = ("role",)
    list_select_related = ("user", "study")
    autocomplete_fields = ("user", "study", "added_by")
    search_fields = ("user__email",)
    search_help_text = "A collaborator's e-mail (exact), a user id or study id."
    uuid_search = ("pk", "user_id", "study_id")
    email_search = "user__email"
    # Served by study_collaborators_study_user_uniq.
    ordering = ("study_id", "user_id")
    sortable_by = ()


@admin.register(CollaborationActivity)
class CollaborationActivityAdmin(BigTableAdmin):
    list_display = ("created_at", "activity_type", "study", "user")
    list_filter = ("activity_type",)
    list_select_related = ("study", "user")
    autocomplete_fields = ("study", "user")
    search_fields = ("study__title",)
    # user_id is indexed (idx_collaboration_activity_user, migration 0006).
    search_help_text = "A study id, a user id or an activity id."
    uuid_search = ("pk", "study_id", "user_id")
    # Served by collaboration_activity_created.
    ordering = ("-created_at",)
    sortable_by = ("created_at",)


@admin.register(TeamProductivityAnalytics)
class TeamProductivityAnalyticsAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    list_display = (
        "organization_name",
        "member_count",
        "studies_created",
        "collaborators",
        "activity_last_7_days",
        "activity_last_30_days",
        "last_activity_at",
    )
    # When the view was computed is one moment for every row: on each row's
    # page and the materialized views page, not in a column of its own.
    search_fields = ("organization_name",)
    search_help_text = "An organization id."
    uuid_search = ("pk",)
    # Most active first. The view has one row per organization: sorting it
    # needs no index, unlike the big tables' lists.
    ordering = ("-activity_last_30_days", "organization_id")
    sortable_by = (
        "member_count",
        "studies_created",
        "collaborators",
        "activity_last_7_days",
        "activity_last_30_days",
    )
