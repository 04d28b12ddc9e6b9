"""Admin pages: rules (editable), alerts (acknowledge), notifications (read-only)."""

from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.db import connections
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html

from perfconsole.core import formatting
from perfconsole.core.admin import LargestFirstMixin, ReadOnlyAdminMixin
from perfconsole.core.db import StatisticsUnavailable
from perfconsole.history import recent
from perfconsole.history.models import MonitoredDatabase
from perfconsole.history.scoping import (
    PARAMETER,
    chosen_target,
)
from perfconsole.monitoring.models import QueryStat
from perfconsole.monitoring.targetviews import reading_views
from perfconsole.replication.fleet import target_alias

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


class TargetFilter(admin.SimpleListFilter):
    """Alerts of one target: by default the one chosen in the switcher.

    Without a choice in the switcher every target's alerts are listed;
    "All targets" lists them all whichever target is chosen.
    """

    title = "target"
    # Not the switcher's own parameter: filtering the list must not switch.
    parameter_name = "on"
    ALL = "all"

    def lookups(self, request, model_admin):
        return [
            (str(pk), name)
            for pk, name in MonitoredDatabase.objects.order_by(
                "-is_console_database", "name"
            ).values_list("pk", "name")
        ]

    def value(self):
        """Return the chosen target's id, the switcher's target by default."""
        value = super().value()
        if value is None and self.default is not None:
            return str(self.default.pk)
        return value

    def __init__(self, request, params, model, model_admin):
        # A request without a session (built by hand) has no switcher choice.
        has_session = hasattr(request, "session")
        self.default = chosen_target(request) if has_session else None
        super().__init__(request, params, model, model_admin)

    def queryset(self, request, queryset):
        value = self.value()
        if value is None or value == self.ALL:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(database_id=int(value))

    def choices(self, changelist):
        value = self.value()
        yield {
            "selected": value is None or value == self.ALL,
            "query_string": changelist.get_query_string(
                {self.parameter_name: self.ALL}
            ),
            "display": "All targets",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: lookup}
                ),
                "display": title,
            }


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
        "subject_on_target",
        "value_display",
        "state",
        "severity",
        "seen",
    ]
    list_filter = ["state", TargetFilter, "rule__severity", "rule"]
    list_select_related = ["rule", "database"]
    search_fields = ["subject", "rule__name"]
    show_full_result_count = False
    actions = ["acknowledge_alerts"]
    inlines = [NotificationInline]
    readonly_fields = [
        "rule",
        "database",
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

    @admin.display(description="subject · target", ordering="subject")
    def subject_on_target(self, alert):
        """Return the subject's link and, below it, its target.

        One column: a column of its own would push the list past a laptop
        screen.
        """
        return format_html(
            '{}<br><span class="target-name">on {}</span>',
            presentation.subject_link(alert),
            alert.database.name,
        )

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
        """Open the page of the statement a query alert is about, on its target.

        The alert keeps the query id; the statement's page needs its row of
        pg_stat_statements (per user), looked up now on the alert's target:
        the busiest one. The page opens with that target chosen.
        """
        if not self.has_view_permission(request):
            raise PermissionDenied
        alert = get_object_or_404(
            Alert.objects.select_related("database"),
            pk=pk,
            rule__metric=Metric.QUERY_MEAN_TIME_MS,
        )
        database = alert.database
        if not database.enabled:
            self.message_user(
                request,
                f"{database.name} is disabled: enable it to open its statements.",
                messages.WARNING,
            )
            return redirect(reverse("admin:alerts_alert_change", args=[alert.pk]))
        try:
            using = target_alias(database)
            with reading_views(using):
                stat = busiest_statement(alert.subject, using)
        except StatisticsUnavailable as error:
            self.message_user(request, f"{database.name}: {error}", messages.ERROR)
            return redirect(reverse("admin:alerts_alert_change", args=[alert.pk]))
        finally:
            close_target(database)
        if stat is None:
            self.message_user(
                request,
                f"{database.name}: Query {alert.subject} is no longer in "
                "pg_stat_statements.",
                messages.WARNING,
            )
            return redirect(reverse("admin:alerts_alert_change", args=[alert.pk]))
        url = reverse("admin:monitoring_querystat_change", args=[quote(stat)])
        # The switcher's parameter: the statement's page shows the alert's target.
        return redirect(f"{url}?{PARAMETER}={database.pk}")

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


def close_target(database):
    """Close the connection to a target other than the console's own database."""
    if not database.is_console_database:
        try:
            connections[target_alias(database)].close()
        except StatisticsUnavailable:
            pass


def busiest_statement(query_id, using="default"):
    """Return the pk of the busiest pg_stat_statements row of a query id, or None.

    A statement the application sent comes before the same shape run inside
    a function (toplevel false), whose text is the function's.
    """
    if not query_id.lstrip("-").isdigit():
        return None
    return (
        QueryStat.objects.using(using)
        .filter(queryid=int(query_id))
        .order_by("-toplevel", "-total_time_ms")
        .values_list("pk", flat=True)
        .first()
    )


@admin.register(Notification)
class NotificationAdmin(LargestFirstMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["sent_at", "alert", "channel", "event", "ok", "attempts"]
    list_filter = ["ok", "channel", "event"]
    list_select_related = ["alert__rule", "alert__database"]
    show_full_result_count = False
