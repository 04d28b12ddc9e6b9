"""Read-only admin pages over the statistics views and the settings review."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models.functions import Greatest
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods

from perfconsole.core.admin import PageAdmin
from perfconsole.history import window_pages
from perfconsole.history.scoping import shows_console
from perfconsole.monitoring import forms, pages, resets, tables
from perfconsole.monitoring.models import (
    IndexUsage,
    QueryStat,
    SettingsReview,
    SlowQuery,
    TablePerformance,
)


class StatsTableAdmin(PageAdmin):
    """A statistics view as a filtered django-tables2 table."""

    title = ""
    description = ""
    filter_form_class = forms.StatsFilterForm
    table_class = None
    # window_pages' function showing the page over a time window (?window=),
    # from the statistics history; None for a page of lifetime counters only.
    window_page = None

    def page_view(self, request):
        if self.window_page is not None and "window" in request.GET:
            return self.window_page(self, request)
        return pages.stats_table_page(
            self,
            request,
            queryset=self.get_table_queryset(),
            notice=self.notice,
            windows=self.window_page is not None,
        )

    def get_table_queryset(self):
        """Return the rows of the table, before the filters."""
        return self.model.objects.all()

    notice = None
    # A key of resets.RESETS: the page offers that reset to those allowed.
    reset_kind = ""

    def page_urls(self):
        if not self.reset_kind:
            return []
        view = self.admin_site.admin_view(
            require_http_methods(["GET", "POST"])(self.reset_view)
        )
        return [path("reset/", view, name=self.url_name("reset"))]

    def may_reset(self, request):
        """Return True if this page has a reset and the user may run it.

        Resets clear the console's own database's counters: a page showing
        another target offers none (it would clear the wrong server's).
        """
        reset = resets.RESETS.get(self.reset_kind)
        return (
            bool(reset)
            and request.user.has_perm(reset.permission)
            and shows_console(request)
        )

    def reset_url(self, request):
        """Return the reset's confirmation page for those allowed, else None."""
        if not self.may_reset(request):
            return None
        return reverse(f"admin:{self.url_name('reset')}")

    def reset_view(self, request):
        """Say what a reset clears and ask to confirm (GET); reset (POST)."""
        if not (self.has_view_permission(request) and self.may_reset(request)):
            raise PermissionDenied
        changelist = reverse(f"admin:{self.url_name('changelist')}")
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            try:
                done = resets.reset_statistics(request.user, self.reset_kind)
                messages.success(request, done)
            except resets.ResetRefused as refused:
                messages.error(request, str(refused))
            return HttpResponseRedirect(changelist)
        reset = resets.RESETS[self.reset_kind]
        return self.render_page(
            request,
            "admin/monitoring/confirm_reset.html",
            f"{reset.title}?",
            reset=reset,
            database=connection.settings_dict["NAME"],
            changelist=changelist,
        )


@admin.register(QueryStat)
class QueryStatAdmin(StatsTableAdmin):
    title = "Query statistics"
    description = (
        "Statements of this database from pg_stat_statements, the console's "
        "own left out unless asked for. Times include planning. Click a query "
        "for its plan."
    )
    filter_form_class = forms.QueryFilterForm
    table_class = tables.QueryTable
    reset_kind = "querystat"
    window_page = staticmethod(window_pages.statements_page)

    def get_table_queryset(self):
        # The filter form leaves the console's own out unless asked.
        return self.model.objects.with_console()

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return super().get_urls() + [
            path(
                "<path:object_id>/",
                wrap(self.detail_view),
                name=self.url_name("change"),
            )
        ]

    def notice(self, using):
        return pages.statements_notice(using)

    def detail_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        explain = request.method == "POST"
        if explain and not request.user.has_perm(pages.EXPLAIN_PERMISSION):
            raise PermissionDenied
        return pages.query_detail_page(self, request, object_id, explain=explain)


@admin.register(SlowQuery)
class SlowQueryAdmin(QueryStatAdmin):
    title = "Slow queries"
    description = (
        "Statements with a mean time of one second or more (the seed report's "
        "definition, TARGETS.md), planning included."
    )
    table_class = tables.SlowQueryTable
    window_page = staticmethod(window_pages.slow_statements_page)


@admin.register(IndexUsage)
class IndexUsageAdmin(StatsTableAdmin):
    title = "Index usage"
    description = (
        "Scans per index since the last statistics reset, least scanned first "
        "and among those the largest: unused large indexes lead. 'Table index "
        "use' is the share of the table's scans that used any index. Choose a "
        "window above for the scans in it and the indexes unused for that "
        "long, from the statistics history (resets do not matter there)."
    )
    filter_form_class = forms.IndexFilterForm
    table_class = tables.IndexTable
    window_page = staticmethod(window_pages.indexes_page)


@admin.register(TablePerformance)
class TablePerformanceAdmin(StatsTableAdmin):
    title = "Table performance"
    description = (
        "Reads and writes, dead tuples, cache hits, sizes and maintenance per "
        "table since the last statistics reset; choose a window above for "
        "what each did in it, its size and growth, and its charts."
    )
    filter_form_class = forms.TableFilterForm
    table_class = tables.TableTable
    reset_kind = "tablestat"
    window_page = staticmethod(window_pages.tables_page)

    def page_urls(self):
        view = self.admin_site.admin_view(self.history_view)
        return [
            *super().page_urls(),
            path("history/", view, name=self.url_name("history")),
        ]

    def history_view(self, request):
        """One table's charts over a window (size, scans, writes, rows)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return window_pages.table_history_page(self, request)

    def get_table_queryset(self):
        # GREATEST ignores NULLs: the later of the manual and automatic runs.
        return self.model.objects.annotate(
            last_vacuumed=Greatest("last_vacuum", "last_autovacuum"),
            last_analyzed=Greatest("last_analyze", "last_autoanalyze"),
        )


@admin.register(SettingsReview)
class SettingsReviewAdmin(PageAdmin):
    view_permission = "monitoring.view_settings_review"

    def page_view(self, request):
        return pages.settings_review_page(self, request)
