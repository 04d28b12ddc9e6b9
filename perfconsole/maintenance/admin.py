"""Admin pages: materialized views with "Refresh now", and refresh history."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse

from perfconsole.core.admin import LargestFirstMixin, ReadOnlyAdminMixin
from perfconsole.core.db import StatisticsUnavailable, monitoring_cursor
from perfconsole.core.pages import PAGE_TEMPLATE, admin_page_context, render_admin_page
from perfconsole.core.tables import readable_html

from .models import MaterializedView, ViewRefresh
from .services import (
    RefreshRefused,
    UnknownView,
    cluster_status,
    data_file_written_at,
    get_materialized_view,
    request_refresh,
    settle_refreshes,
)
from .tables import RefreshHistoryTable

REFRESH_PERMISSION = "maintenance.refresh_materialized_view"
HISTORY_ON_PAGE = 20


class NotFoundMixin:
    """Answer 404 for a page of a row that does not exist.

    Django's admin redirects to its index with a message instead, which
    answers 200 for any name.
    """

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(f"No {opts.verbose_name} named {object_id!r}")


@admin.register(MaterializedView)
class MaterializedViewAdmin(
    LargestFirstMixin, NotFoundMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    # What a DBA reads first, within a laptop screen; the view's page has
    # the rest (unique index, when the last refresh finished, its error).
    list_display = [
        "name",
        "kind",
        "populated",
        "size",
        "rows_estimate",
        "last_status",
        "last_duration",
        "age_display",
        "running",
        "refreshed_by_console",
    ]
    actions = ["refresh_now"]
    show_full_result_count = False

    @admin.display(description="size", ordering="size_bytes")
    def size(self, view):
        if view.size_bytes is None:
            return "busy (plain refresh running)"
        return readable_html(view.size_bytes, "size")

    @admin.display(description="rows (est.)", ordering="row_estimate")
    def rows_estimate(self, view):
        if view.row_estimate is None:
            return "-"
        return f"{view.row_estimate:,}"

    @admin.display(description="last duration", ordering="last_duration_ms")
    def last_duration(self, view):
        if view.last_duration_ms is None:
            return "-"
        return readable_html(view.last_duration_ms, "duration")

    @admin.display(description="age", ordering="age")
    def age_display(self, view):
        return format_age(view.age)

    @admin.display(description="running", boolean=True, ordering="in_progress")
    def running(self, view):
        return view.in_progress

    @admin.display(description="by the console")
    def refreshed_by_console(self, view):
        return "yes" if view.managed else f"no: {view.unmanaged_reason}"

    def has_refresh_permission(self, request):
        return request.user.has_perm(REFRESH_PERMISSION)

    @admin.action(description="Refresh now", permissions=["refresh"])
    def refresh_now(self, request, queryset):
        queued = []
        for view in queryset:
            try:
                refresh, created = request_refresh(
                    view.name, ViewRefresh.Trigger.USER, request.user
                )
            except RefreshRefused as error:
                self.message_user(request, str(error), messages.ERROR)
                continue
            self.audit_request(request, view, refresh, created)
            queued.append(view.name)
        if queued:
            self.message_user(
                request,
                f"Refresh queued: {', '.join(queued)}; each view's page shows "
                "its progress.",
            )
            self.warn_without_cluster(request)

    def warn_without_cluster(self, request):
        """Say beside a queued refresh that no task cluster will run it yet."""
        alive, description = cluster_status()
        if not alive:
            self.message_user(
                request,
                f"{description} The refresh waits for one and is marked failed "
                "after MAINTENANCE_QUEUE_WAIT_SECONDS; manage.py refreshviews "
                "refreshes here and now.",
                messages.WARNING,
            )

    def audit_request(self, request, view, refresh, created):
        """Write the LogEntry for one press of "Refresh now"."""
        if created:
            message = f"Refresh requested (#{refresh.pk}, task {refresh.task_id})"
        else:
            message = (
                f"Refresh requested while #{refresh.pk} was {refresh.status}: "
                "nothing new queued"
            )
        self.log_change(request, view, message)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/refresh/",
                self.admin_site.admin_view(self.refresh_view),
                name="{}_{}_refresh".format(*info),
            ),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        if request.method != "GET":
            return super().changelist_view(request, extra_context)
        settle_refreshes()
        # Read the catalog with the monitoring time limits, so a lock shows
        # a message instead of hanging the page.
        try:
            with monitoring_cursor():
                response = super().changelist_view(request, extra_context)
                if hasattr(response, "render"):
                    response.render()
        except StatisticsUnavailable as error:
            return self.render_page(request, "Materialized views", error=str(error))
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show one view, its refresh history and the "Refresh now" button."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            view = get_materialized_view(unquote(object_id))
        except UnknownView:
            raise Http404("No such materialized view") from None
        except StatisticsUnavailable as error:
            return self.render_page(request, "Materialized view", error=str(error))
        cluster_alive, cluster_description = cluster_status()
        if settle_refreshes(view.name, cluster_alive=cluster_alive):
            # Its in-progress flag was read before the rows were settled.
            view = get_materialized_view(view.name)
        history = list(
            ViewRefresh.objects.filter(view_name=view.name).select_related(
                "triggered_by"
            )[:HISTORY_ON_PAGE]
        )
        latest = history[0] if history else None
        try:
            written_at, written_unknown = data_file_written_at(view)
        except StatisticsUnavailable as error:
            written_at, written_unknown = None, f"unknown: {error}"
        return self.render_page(
            request,
            f"Materialized view {view.name}",
            template="admin/maintenance/materializedview_detail.html",
            view=view,
            written_at=written_at,
            written_unknown=written_unknown,
            history_table=RefreshHistoryTable(history),
            latest=latest,
            polling=latest is not None and latest.in_progress,
            can_refresh=self.has_refresh_permission(request) and view.managed,
            cluster_alive=cluster_alive,
            cluster_description=cluster_description,
            queue_wait=settings.MAINTENANCE_QUEUE_WAIT_SECONDS,
            refresh_url=reverse(
                "admin:maintenance_materializedview_refresh", args=[quote(view.name)]
            ),
        )

    def refresh_view(self, request, object_id):
        """Queue a refresh of one view (POST only), then show its page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_refresh_permission(request):
            raise PermissionDenied
        try:
            view = get_materialized_view(unquote(object_id))
            refresh, created = request_refresh(
                view.name, ViewRefresh.Trigger.USER, request.user
            )
        except UnknownView:
            raise Http404("No such materialized view") from None
        except (RefreshRefused, StatisticsUnavailable) as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.audit_request(request, view, refresh, created)
            if created:
                self.message_user(request, f"Refresh of {view.name} queued.")
                self.warn_without_cluster(request)
            else:
                self.message_user(
                    request,
                    f"A refresh of {view.name} is already {refresh.status}; "
                    "no second one was queued.",
                    messages.WARNING,
                )
        return HttpResponseRedirect(
            reverse("admin:maintenance_materializedview_change", args=[object_id])
        )

    def render_page(self, request, title, template=None, error=None, **context):
        """Render a console page inside the admin look."""
        context = admin_page_context(self, request, title, error=error, **context)
        return render_admin_page(request, template or PAGE_TEMPLATE, context)


@admin.register(ViewRefresh)
class ViewRefreshAdmin(
    LargestFirstMixin, NotFoundMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    # Within a laptop screen beside the filters; a refresh's page has when
    # it started (after waiting for the lock or a worker).
    list_display = [
        "view_name",
        "status",
        "by",
        "requested_at",
        "duration",
        "concurrent",
        "short_error",
    ]
    list_filter = ["status", "trigger", "view_name"]
    search_fields = ["view_name"]
    list_select_related = ["triggered_by"]
    show_full_result_count = False

    def changelist_view(self, request, extra_context=None):
        # Like the views' pages: a row whose worker is gone reads as failed.
        settle_refreshes()
        return super().changelist_view(request, extra_context)

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, refresh):
        if refresh.duration_ms is None:
            return "-"
        return readable_html(refresh.duration_ms, "duration")

    @admin.display(description="by", ordering="trigger")
    def by(self, refresh):
        """Return the trigger, and the user for one a user asked for."""
        trigger = refresh.get_trigger_display()
        if refresh.triggered_by is None:
            return trigger
        return f"{trigger} {refresh.triggered_by}"

    @admin.display(description="concurrent", boolean=True, ordering="concurrently")
    def concurrent(self, refresh):
        return refresh.concurrently

    @admin.display(description="error")
    def short_error(self, refresh):
        return refresh.error[:120]


def format_age(age):
    """Return a timedelta as '3 h 12 min', or '-' when unknown."""
    if age is None:
        return "-"
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days"
