"""The dashboard, and the list of collections it is drawn from.

Registered from HistoryConfig.ready(). The dashboard opens with the view
permission of snapshots (history.view_snapshot): whoever may see the
collections may see what they collected.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone

from perfconsole.core.admin import ReadOnlyAdminMixin
from perfconsole.core.db import StatisticsUnavailable, reading_statistics
from perfconsole.core.overview import scoped_open_alerts
from perfconsole.core.pages import admin_page_context, render_admin_page

from .dashboard import dashboard_charts, top_statements
from .dashboard_tables import RefreshTable, TopQueryTable
from .models import Snapshot, query_stat_id
from .scoping import Scope, request_scope
from .window_form import WindowForm
from .window_tables import window_query

DASHBOARD_TEMPLATE = "admin/history/dashboard.html"
# Running every health check takes longer than the rest of the page: the
# dashboard shows their result cached this many seconds.
HEALTH_CACHE_SECONDS = 60
HEALTH_CACHE_KEY = "history:dashboard:health"
TOP_QUERIES = 5
LATEST_REFRESHES = 5


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every collection: when, how it went, what it could not read."""

    list_display = (
        "taken_at",
        "status",
        "interval_seconds",
        "rows_stored",
        "server_ms",
        "missing",
    )
    list_filter = ("status",)

    def get_urls(self):
        view = self.admin_site.admin_view(self.dashboard_view)
        return [path("dashboard/", view, name="history_dashboard"), *super().get_urls()]

    def dashboard_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = WindowForm(request.GET)
        context = admin_page_context(self, request, "Dashboard", form=form)
        if not form.is_valid():
            context["error"] = "Please correct the window: " + " ".join(
                error for errors in form.errors.values() for error in errors
            )
            return render_admin_page(request, DASHBOARD_TEMPLATE, context, 400)
        start, end = form.bounds()
        scope = request_scope(request)
        database = scope.database
        context.update(
            window_label=form.label(),
            start=start,
            end=end,
            health=health_summary(scope),
            alerts=scoped_open_alerts(request),
            alerts_url=safe_reverse("admin:alerts_alert_changelist"),
            snapshots_url=reverse("admin:history_snapshot_changelist"),
            queries_url=safe_reverse("admin:monitoring_querystat_changelist"),
            last_snapshot=Snapshot.objects.filter(database=database)
            .order_by("-taken_at")
            .first(),
        )
        try:
            with reading_statistics():
                context.update(window_data(database, start, end, window_query(request)))
        except StatisticsUnavailable as error:
            context["error"] = str(error)
            return render_admin_page(request, DASHBOARD_TEMPLATE, context, 503)
        return render_admin_page(request, DASHBOARD_TEMPLATE, context)


def window_data(database, start, end, window=""):
    """Return the dashboard's charts, top queries and latest refreshes.

    window, the page's window as a query string, goes on the top queries'
    links, so their pages chart the same window.
    """
    top = top_queries(database, start, end, window)
    return {
        "charts": dashboard_charts(database, start, end),
        "top_queries": top,
        "top_table": TopQueryTable(top),
        "refresh_table": RefreshTable(latest_refreshes()),
    }


def safe_reverse(name, *args):
    """Return the URL of an admin page, or "" when it is not installed."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def health_summary(scope: Scope | None = None):
    """Return the health checks' worst status and counts, cached a minute.

    scope: the monitored database judged (None: the console's own); each
    database has its own cached summary.
    """
    target = scope.other_target if scope is not None else None
    key = f"{HEALTH_CACHE_KEY}:{target.pk}" if target else HEALTH_CACHE_KEY
    summary = cache.get(key)
    if summary is None:
        from perfconsole.health.registry import overall_status, run_all_checks

        results = run_all_checks(scope=scope)
        summary = {
            "status": overall_status(results),
            "warning": sum(result.status == "warning" for result in results),
            "critical": sum(result.status == "critical" for result in results),
            "checks": len(results),
            "checked_at": timezone.now(),
        }
        cache.set(key, summary, HEALTH_CACHE_SECONDS)
    summary["url"] = safe_reverse("admin:health_healthcheck_changelist")
    return summary


def top_queries(database, start, end, window=""):
    """Return the window's five statements with the most total time."""
    rows = top_statements(database, start, end, TOP_QUERIES)
    for row in rows:
        page_id = query_stat_id(row["queryid"], row["userid"], row["toplevel"])
        url = safe_reverse("admin:monitoring_querystat_change", quote(page_id))
        row["url"] = f"{url}?{window}" if url and window else url
    return rows


def latest_refreshes():
    """Return the latest materialized view refreshes, newest first."""
    from perfconsole.maintenance.models import ViewRefresh

    return list(ViewRefresh.objects.order_by("-requested_at")[:LATEST_REFRESHES])
