"""Admin pages: rules (editable), alerts (acknowledge), notifications (read-only)."""

from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html

from perfconsole.core import formatting
from perfconsole.core.admin import LargestFirstMixin, ReadOnlyAdminMixin
from perfconsole.core.db import StatisticsUnavailable, reading_statistics
from perfconsole.history import recent
from perfconsole.monitoring.models import QueryStat

from . import presentation
from .evaluation import acknowledge
from .models import WINDOW_METRICS, Alert, AlertRule, Metric, Notification


@admin.register(AlertRule)
class AlertRuleAdmin(LargestFirstMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "condition",
        "severity",
        "scope",
        "window",
        "cooldown_minutes",
        "enabled",
    ]
    list_filter = ["enabled", "severity", "metric"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "enabled", "severity", "description"]}),
        (
            "Condition",
            {"fields": ["metric", "comparison", "threshold", "window_minutes"]},
        ),
        ("Scope", {"fields": ["tables", "query_ids", "min_rows"]}),
        ("Notifications", {"fields": ["cooldown_minutes"]}),
    ]

    @admin.display(description="window", ordering="window_minutes")
    def window(self, rule):
        """Return the rule's window, for the metrics judged over one."""
        if rule.metric not in WINDOW_METRICS:
            return "-"
        return recent.last(rule.window_minutes).removeprefix("over the ")

    @admin.display(description="scope")
    def scope(self, rule):
        parts = []
        if rule.tables:
            parts.append(f"tables: {', '.join(rule.tables)}")
        if rule.query_ids:
            parts.append(f"queries: {', '.join(map(str, rule.query_ids))}")
        if rule.min_rows:
            parts.append(f"≥ {rule.min_rows:,} rows")
        return "; ".join(parts) or "all"


class NotificationInline(admin.TabularInline):
    model = Notification
    extra = 0
    can_delete = False
    fields = ["sent_at", "channel", "event", "ok", "attempts", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(LargestFirstMixin, admin.ModelAdmin):
    list_display = [
        "rule",
        "subject_link",
        "value_display",
        "state",
        "severity",
        "seen",
    ]
    list_filter = ["state", "rule__severity", "rule"]
    list_select_related = ["rule"]
    search_fields = ["subject", "rule__name"]
    show_full_result_count = False
    actions = ["acknowledge_alerts"]
    inlines = [NotificationInline]
    readonly_fields = [
        "rule",
        "subject_link",
        "detail",
        "value_display",
        "threshold",
        "state",
        "first_seen",
        "last_seen",
        "resolved_at",
        "acknowledged_at",
        "acknowledged_by",
    ]

    @admin.display(description="severity", ordering="rule__severity")
    def severity(self, alert):
        return alert.rule.get_severity_display()

    @admin.display(description="subject", ordering="subject")
    def subject_link(self, alert):
        return presentation.subject_link(alert)

    @admin.display(description="value (threshold)", ordering="value")
    def value_display(self, alert):
        return presentation.value_with_threshold(alert)

    @admin.display(description="last seen", ordering="last_seen")
    def seen(self, alert):
        # How long ago fits the list; the moment, with seconds, on hover.
        return format_html(
            '<span title="{}">{}</span>',
            formatting.timestamp(alert.last_seen),
            formatting.ago(alert.last_seen),
        )

    @admin.display(description="threshold")
    def threshold(self, alert):
        return presentation.threshold(alert.rule) or "-"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view(self.query_view)
        return [
            path("<int:pk>/query/", view, name="{}_{}_query".format(*info)),
            *super().get_urls(),
        ]

    def query_view(self, request, pk):
        """Open the page of the statement a query alert is about.

        The alert keeps the query id; the statement's page needs its row of
        pg_stat_statements (per user), looked up now: the busiest one.
        """
        if not self.has_view_permission(request):
            raise PermissionDenied
        alert = get_object_or_404(Alert, pk=pk, rule__metric=Metric.QUERY_MEAN_TIME_MS)
        try:
            with reading_statistics():
                stat = busiest_statement(alert.subject)
        except StatisticsUnavailable as error:
            self.message_user(request, str(error), messages.ERROR)
            return redirect(reverse("admin:alerts_alert_change", args=[alert.pk]))
        if stat is None:
            self.message_user(
                request,
                f"Query {alert.subject} is no longer in pg_stat_statements.",
                messages.WARNING,
            )
            return redirect(reverse("admin:alerts_alert_change", args=[alert.pk]))
        url = reverse("admin:monitoring_querystat_change", args=[quote(stat)])
        return redirect(url)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Alerts are opened and closed by evaluation; people only acknowledge.
        return False

    def has_acknowledge_permission(self, request):
        return request.user.has_perm("alerts.acknowledge_alert")

    @admin.action(
        description="Acknowledge selected firing alerts", permissions=["acknowledge"]
    )
    def acknowledge_alerts(self, request, queryset):
        changed = acknowledge(queryset.filter(state="firing"), request.user)
        for alert in changed:
            self.log_change(request, alert, "Acknowledged.")
        self.message_user(
            request, f"{len(changed)} alert(s) acknowledged.", messages.SUCCESS
        )


def busiest_statement(query_id):
    """Return the pk of the busiest pg_stat_statements row of a query id, or None.

    A statement the application sent comes before the same shape run inside
    a function (toplevel false), whose text is the function's.
    """
    if not query_id.lstrip("-").isdigit():
        return None
    return (
        QueryStat.objects.filter(queryid=int(query_id))
        .order_by("-toplevel", "-total_time_ms")
        .values_list("pk", flat=True)
        .first()
    )


@admin.register(Notification)
class NotificationAdmin(LargestFirstMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["sent_at", "alert", "channel", "event", "ok", "attempts"]
    list_filter = ["ok", "channel", "event"]
    list_select_related = ["alert__rule"]
    show_full_result_count = False
