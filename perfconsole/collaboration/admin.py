"""Admin for the collaboration schema, fast with millions of rows.

Every changelist orders by an indexed column (and lets a user sort only by
such columns), joins its foreign keys in one query (list_select_related),
fetches one page of rows with a LIMIT, counts exactly only up to its last
page (a LIMITed count: "more than N" beyond it, never a whole table), pages
no deeper than MAX_PAGES and searches indexed columns only: an e-mail
address (exact) or an id, looked up in the one column that holds it.
"""

from __future__ import annotations

import json
import uuid

from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR
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
from perfconsole.core.middleware import bad_request

# The deepest page a changelist shows. OFFSET reads (and joins) every row it
# skips: page 100 of the activity took 100-120 ms of SQL at `large`, page 20
# about 20 ms. Past this a filter or a search is the way through a big table.
MAX_PAGES = 20


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


class BoundedPaginator(Paginator):
    """A paginator that counts exactly, but never past its last page.

    The planner's estimate can be far below the real count (3 rows for a
    user on 4 543 studies): the admin then took the list for one page and
    fetched every row. Counting at most one row more than the pages shown
    (a LIMITed subquery) is exact where it matters and bounded everywhere.
    """

    max_pages = MAX_PAGES

    @cached_property
    def max_rows(self) -> int:
        return self.per_page * self.max_pages

    @cached_property
    def capped_count(self) -> int:
        """Count the rows, stopping one past max_rows (one LIMITed query)."""
        return self.object_list.order_by()[: self.max_rows + 1].count()

    @property
    def has_more(self) -> bool:
        """Return True if rows remain past the last page shown."""
        return self.capped_count > self.max_rows

    @cached_property
    def count(self):
        return min(self.capped_count, self.max_rows)

    @cached_property
    def estimate(self) -> int:
        """Return the planner's estimate of all the rows (no count)."""
        queryset = self.object_list
        if not queryset.query.where:
            return table_estimate(queryset.model)
        # The rows' ids only: planning the list's joins costs more than a count.
        return plan_estimate(queryset.order_by().values("pk"))

    @cached_property
    def estimate_beyond(self) -> int | None:
        """Return the estimate when rows remain past the last page and it
        says more than the pages hold, else None (nothing worth showing)."""
        if not self.has_more:
            return None
        estimate = self.estimate
        return estimate if estimate > self.max_rows else None


class IndexedOrderingChangeList(LargestFirstChangeList):
    """A changelist that ignores ?o= on columns outside sortable_by.

    The admin hides the other headers' sort links but still obeys a crafted
    URL; sorting a million rows by an unindexed column takes seconds. It
    always fetches one page with a LIMIT: no "show all" (?all=), and a list
    of one page is sliced too.
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

    def get_results(self, request):
        self.show_all = False
        super().get_results(request)
        if not self.multi_page:
            # The admin fetches a one-page list unsliced: keep the LIMIT
            # should rows arrive between the count and the fetch.
            self.result_list = self.result_list[: self.list_per_page]
        self.can_show_all = False


def parse_uuid(term: str) -> uuid.UUID | None:
    """Return the term as a UUID, or None."""
    try:
        return uuid.UUID(term.strip())
    except ValueError:
        return None


def requested_page(request) -> int | None:
    """Return ?p= as a number, or None if absent or not a number."""
    try:
        return int(request.GET.get(PAGE_VAR, ""))
    except ValueError:
        return None


class BigTableAdmin(CheckedAutocompleteMixin, admin.ModelAdmin):
    """Common settings for the collaboration changelists."""

    paginator = BoundedPaginator
    show_full_result_count = False
    # Facet counts (?_facets=) count every value over the whole table.
    show_facets = admin.ShowFacets.NEVER
    sortable_by = ()
    list_per_page = 50
    # Where a UUID is looked up, in order: the first column whose related
    # table has a row with that id is searched alone (one indexed condition,
    # not an OR that no index serves in the list's order); the last one is
    # searched without a check.
    uuid_search = ("pk",)
    # A lookup that takes a user's e-mail address, if any.
    email_search: str | None = None

    def get_changelist(self, request, **kwargs):
        return IndexedOrderingChangeList

    def changelist_view(self, request, extra_context=None):
        page = requested_page(request)
        if page is not None and page > MAX_PAGES:
            rows = MAX_PAGES * self.list_per_page
            return bad_request(
                f"this list shows its first {MAX_PAGES} pages ({rows:,} rows)"
                f" only: page {page:,} would read every row before it."
                " Narrow the list with a filter or a search."
            )
        return super().changelist_view(request, extra_context)

    def uuid_condition(self, value: uuid.UUID) -> Q:
        """Return the one lookup of uuid_search that names this id."""
        *checked, last = self.uuid_search
        for lookup in checked:
            if lookup == "pk":
                target = self.model
            else:
                target = self.model._meta.get_field(lookup).related_model
            if target._default_manager.filter(pk=value).exists():
                return Q(**{lookup: value})
        return Q(**{last: value})

    def get_search_results(self, request, queryset, search_term):
        """Search indexed columns: ids (UUID) and e-mail addresses (exact)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        value = parse_uuid(term)
        if value is not None:
            return queryset.filter(self.uuid_condition(value)), False
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
    # An organization id lists its members in the index's order.
    uuid_search = ("organization_id", "user_id", "pk")
    email_search = "user__email"
    # With the admin's tiebreak (-id), served by organization_members_by_role.
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
    uuid_search = ("organization_id", "pk")

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
    # A study id lists its collaborators in the unique index's order.
    uuid_search = ("study_id", "user_id", "pk")
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
    # A study id reads idx_collaboration_activity_timeline, newest first.
    uuid_search = ("study_id", "user_id", "pk")
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
