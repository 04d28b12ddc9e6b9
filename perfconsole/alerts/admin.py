"""Admin pages: rules (editable), alerts (acknowledge), notifications (read-only)."""

from django.contrib import admin, messages

from perfconsole.core.admin import ReadOnlyAdminMixin

from .evaluation import acknowledge
from .models import Alert, AlertRule, Notification


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "condition",
        "severity",
        "scope",
        "cooldown_minutes",
        "enabled",
    ]
    list_filter = ["enabled", "severity", "metric"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "enabled", "severity", "description"]}),
        ("Condition", {"fields": ["metric", "comparison", "threshold"]}),
        ("Scope", {"fields": ["tables", "query_ids", "min_rows"]}),
        ("Notifications", {"fields": ["cooldown_minutes"]}),
    ]

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
class AlertAdmin(admin.ModelAdmin):
    list_display = [
        "rule",
        "subject",
        "value",
        "state",
        "severity",
        "first_seen",
        "last_seen",
        "resolved_at",
    ]
    list_filter = ["state", "rule__severity", "rule"]
    list_select_related = ["rule"]
    search_fields = ["subject", "rule__name"]
    show_full_result_count = False
    actions = ["acknowledge_alerts"]
    inlines = [NotificationInline]
    readonly_fields = [
        "rule",
        "subject",
        "detail",
        "value",
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


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["sent_at", "alert", "channel", "event", "ok", "attempts"]
    list_filter = ["ok", "channel", "event"]
    list_select_related = ["alert__rule"]
    show_full_result_count = False
