"""Admin pages: health checks, and live activity and locks with actions."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods
from django_tables2 import RequestConfig

from perfconsole.core.admin import PageAdmin
from perfconsole.core.db import StatisticsUnavailable
from perfconsole.core.middleware import bad_request
from perfconsole.core.ownership import include_console_tables
from perfconsole.core.tables import rows_table
from perfconsole.health import activity
from perfconsole.health.forms import (
    THIS_DATABASE,
    ActivityFilterForm,
    HealthFilterForm,
    SignalForm,
)
from perfconsole.health.models import Activity, HealthCheck
from perfconsole.health.registry import overall_status, run_all_checks
from perfconsole.health.tables import CheckSummaryTable, ProgressTable, SessionTable
from perfconsole.history.scoping import Scope, request_scope


@admin.register(HealthCheck)
class HealthCheckAdmin(PageAdmin):
    view_permission = "health.view_health_checks"

    def page_view(self, request):
        form = HealthFilterForm(request.GET)
        if not form.is_valid():
            return _bad_request("filter", form)
        include_console = form.cleaned_data["console"]
        if include_console is None:
            include_console = include_console_tables()
        results = run_all_checks(
            include_console=include_console, scope=request_scope(request)
        )
        return self.render_page(
            request,
            "admin/health/checks.html",
            "Health checks",
            include_console=include_console,
            overall=overall_status(results),
            summary=CheckSummaryTable(results),
            results=[(result, rows_table(result.rows)) for result in results],
        )


def sessions_table(request, sessions, *, all_databases=False):
    """Return the sessions' table with the buttons this user may press."""
    table = SessionTable(
        sessions,
        actions=activity.allowed_actions(request.user),
        all_databases=all_databases,
    )
    # The buttons' template needs the request (CSRF token).
    RequestConfig(request, paginate=False).configure(table)
    return table


def _bad_request(what, form):
    """Return the console's 400 page naming the invalid fields."""
    return bad_request(f"invalid {what}: " + form.errors.as_text())


@admin.register(Activity)
class ActivityAdmin(PageAdmin):
    view_permission = "health.view_activity"

    def page_urls(self):
        return [
            path(
                "signal/",
                self.admin_site.admin_view(
                    require_http_methods(["GET", "POST"])(self.signal_view)
                ),
                name="health_activity_signal",
            )
        ]

    def page_view(self, request):
        scope = request_scope(request)
        error, databases = "", []
        try:
            databases = activity.databases(scope.alias)
        except StatisticsUnavailable as unavailable:
            error = scope.unavailable(unavailable)
        form = ActivityFilterForm(request.GET, databases=databases)
        if not form.is_valid():
            return _bad_request("filter", form)
        filters = form.cleaned_data
        sessions, pairs, progress = [], [], []
        if not error:
            try:
                sessions = activity.sessions(
                    include_console=filters["console"],
                    state=filters["state"],
                    user=filters["user"],
                    application=filters["application"],
                    database=filters["database"],
                    min_seconds=filters["min_seconds"],
                    using=scope.alias,
                )
                pairs = activity.blocking_pairs(scope.alias)
                progress = activity.progress(scope.alias)
            except StatisticsUnavailable as unavailable:
                error = scope.unavailable(unavailable)
        return self.render_page(
            request,
            "admin/health/activity.html",
            "Live activity and locks",
            error=error,
            form=form,
            sessions=sessions_table(
                request, sessions, all_databases=filters["database"] != THIS_DATABASE
            ),
            pairs=rows_table(pairs),
            progress=ProgressTable(progress),
            include_console=filters["console"],
            refresh=filters["refresh"],
            actions_enabled=activity.actions_enabled(),
        )

    def signal_view(self, request):
        """Show the session and ask to confirm (GET); cancel or terminate (POST)."""
        data = request.POST if request.method == "POST" else request.GET
        form = SignalForm(data)
        if not form.is_valid():
            return _bad_request("request", form)
        pid, action = form.cleaned_data["pid"], form.cleaned_data["action"]
        # The confirmation shows the session: viewing activity is needed too.
        if not self.has_view_permission(request):
            raise PermissionDenied
        if action not in activity.allowed_actions(request.user):
            raise PermissionDenied
        # The session is the chosen target's: the one the activity page showed.
        scope = request_scope(request)
        if request.method == "POST" and form.cleaned_data["confirm"]:
            shown = str(scope.other_target.pk) if scope.other_target else ""
            if request.POST.get("on", shown) != shown:
                # Another tab switched the target since this confirmation.
                messages.error(
                    request,
                    f"Nothing was sent: the pages show {scope.name} now, not the "
                    "database this confirmation was for. Look at the session again.",
                )
                return HttpResponseRedirect(reverse("admin:health_activity_changelist"))
            try:
                done = activity.signal_backend(
                    request.user,
                    pid,
                    action,
                    form.cleaned_data["expected"],
                    using=scope.alias,
                    target=target_name(scope),
                )
                messages.success(request, done)
            except (activity.ActionRefused, StatisticsUnavailable) as refused:
                messages.error(request, str(refused))
            return HttpResponseRedirect(reverse("admin:health_activity_changelist"))
        return self.confirm_page(request, pid, action, scope)

    def confirm_page(self, request, pid, action, scope):
        """Render what the action would reach, and a button to confirm it."""
        session, refusal = None, ""
        try:
            session = activity.signal_target(
                request.user, pid, action, using=scope.alias
            )
        except (activity.ActionRefused, StatisticsUnavailable) as refused:
            refusal = str(refused)
        verb = "Cancel the query of" if action == "cancel" else "Terminate"
        return self.render_page(
            request,
            "admin/health/confirm_signal.html",
            f"{verb} pid {pid}?",
            pid=pid,
            action=action,
            session=session,
            expected=session[activity.ACTIONS[action]["key"]] if session else "",
            refusal=refusal,
            target=scope.other_target,
        )


def target_name(scope: Scope) -> str:
    """Return the target's name for the audit, "" for the console's own database."""
    return scope.other_target.name if scope.other_target else ""
