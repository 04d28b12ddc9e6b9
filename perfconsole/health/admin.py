"""Admin pages: health checks, and live activity and locks with actions."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from perfconsole.core.admin import PageAdmin
from perfconsole.core.db import StatisticsUnavailable
from perfconsole.core.ownership import include_console_tables
from perfconsole.core.tables import rows_table
from perfconsole.health import activity
from perfconsole.health.forms import ActivityFilterForm, HealthFilterForm, SignalForm
from perfconsole.health.models import Activity, HealthCheck
from perfconsole.health.registry import overall_status, run_all_checks
from perfconsole.health.tables import CheckSummaryTable, SessionTable


@admin.register(HealthCheck)
class HealthCheckAdmin(PageAdmin):
    view_permission = "health.view_health_checks"

    def page_view(self, request):
        form = HealthFilterForm(request.GET)
        if not form.is_valid():
            return HttpResponseBadRequest(
                "Invalid filter: " + form.errors.as_text(), content_type="text/plain"
            )
        include_console = form.cleaned_data["console"]
        if include_console is None:
            include_console = include_console_tables()
        results = run_all_checks(include_console=include_console)
        return self.render_page(
            request,
            "admin/health/checks.html",
            "Health checks",
            include_console=include_console,
            overall=overall_status(results),
            summary=CheckSummaryTable(results),
            results=[(result, rows_table(result.rows)) for result in results],
        )


def sessions_table(request, sessions):
    """Return the sessions' table with the buttons this user may press."""
    table = SessionTable(sessions, actions=activity.allowed_actions(request.user))
    # The buttons' template needs the request (CSRF token).
    RequestConfig(request, paginate=False).configure(table)
    return table


@admin.register(Activity)
class ActivityAdmin(PageAdmin):
    view_permission = "health.view_activity"

    def page_urls(self):
        return [
            path(
                "signal/",
                self.admin_site.admin_view(require_POST(self.signal_view)),
                name="health_activity_signal",
            )
        ]

    def page_view(self, request):
        form = ActivityFilterForm(request.GET)
        if not form.is_valid():
            return HttpResponseBadRequest(
                "Invalid filter: " + form.errors.as_text(), content_type="text/plain"
            )
        include_console = form.cleaned_data["console"]
        error, sessions, pairs = "", [], []
        try:
            sessions = activity.sessions(include_console=include_console)
            pairs = activity.blocking_pairs()
        except StatisticsUnavailable as unavailable:
            error = str(unavailable)
        return self.render_page(
            request,
            "admin/health/activity.html",
            "Live activity and locks",
            error=error,
            sessions=sessions_table(request, sessions),
            pairs=rows_table(pairs),
            include_console=include_console,
            actions_enabled=activity.actions_enabled(),
        )

    def signal_view(self, request):
        form = SignalForm(request.POST)
        if not form.is_valid():
            return HttpResponseBadRequest(
                "Invalid request: " + form.errors.as_text(), content_type="text/plain"
            )
        pid, action = form.cleaned_data["pid"], form.cleaned_data["action"]
        if action not in activity.allowed_actions(request.user):
            raise PermissionDenied
        try:
            messages.success(
                request, activity.signal_backend(request.user, pid, action)
            )
        except (activity.ActionRefused, StatisticsUnavailable) as refused:
            messages.error(request, str(refused))
        return HttpResponseRedirect(reverse("admin:health_activity_changelist"))
