"""Read-only admin pages over the statistics views and the settings review."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models.functions import Greatest
from django.urls import path

from perfconsole.core.admin import PageAdmin
from perfconsole.monitoring import forms, pages, tables
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

    def page_view(self, request):
        return pages.stats_table_page(
            self, request, queryset=self.get_table_queryset(), notice=self.notice
        )

    def get_table_queryset(self):
        """Return the rows of the table, before the filters."""
        return self.model.objects.all()

    notice = None


@admin.register(QueryStat)
class QueryStatAdmin(StatsTableAdmin):
    title = "Query statistics"
    description = (
        "Statements of this database from pg_stat_statements, the console's "
        "own left out. Times include planning. Click a query for its plan."
    )
    filter_form_class = forms.QueryFilterForm
    table_class = tables.QueryTable

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return super().get_urls() + [
            path(
                "<path:object_id>/",
                wrap(self.detail_view),
                name=self.url_name("change"),
            )
        ]

    def notice(self):
        return pages.statements_notice()

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


@admin.register(IndexUsage)
class IndexUsageAdmin(StatsTableAdmin):
    title = "Index usage"
    description = (
        "Scans per index since the last statistics reset, least scanned first "
        "and among those the largest: unused large indexes lead. 'Table index "
        "use' is the share of the table's scans that used any index."
    )
    filter_form_class = forms.IndexFilterForm
    table_class = tables.IndexTable


@admin.register(TablePerformance)
class TablePerformanceAdmin(StatsTableAdmin):
    title = "Table performance"
    description = (
        "Reads and writes, dead tuples, cache hits, sizes and maintenance per "
        "table since the last statistics reset."
    )
    filter_form_class = forms.TableFilterForm
    table_class = tables.TableTable

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
