"""Monitored databases in the admin: targets, their connection test, the fleet.

Registered from HistoryConfig.ready(). Adding, changing and removing a
target take Django's model permissions and go to the admin log, as does a
connection test (history.test_connection). The console's own database is
listed first; its connection is the console's and cannot be edited here,
nor can it be removed. The fleet overview opens with the model's view
permission.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.urls import path, reverse
from django.utils.html import format_html

from perfconsole.core.pages import admin_page_context, render_admin_page

from .connection_test import run_connection_test
from .databases_form import CONNECTION_FIELDS, MonitoredDatabaseForm
from .fleet import fleet_rows
from .fleet_tables import FindingTable, FleetTable
from .models import MonitoredDatabase
from .removal import history_counts, remove_database

TEST_PERMISSION = "history.test_connection"
STATUS_FIELDS = ("status", "status_reason", "status_since", "last_checked_at")
REPLICATION_FIELDS = ("role", "primary")


@admin.register(MonitoredDatabase)
class MonitoredDatabaseAdmin(admin.ModelAdmin):
    """The databases the console watches; the console's own comes first."""

    form = MonitoredDatabaseForm
    change_form_template = "admin/history/monitoreddatabase/change_form.html"
    list_display = (
        "name",
        "endpoint",
        "role",
        "primary",
        "enabled",
        "status_display",
        "last_checked_at",
    )
    list_filter = ("enabled", "role", "status")
    search_fields = ("name", "host", "dbname", "service")
    fieldsets = (
        (None, {"fields": ("name", "enabled", "collect_interval_s")}),
        (
            "Connection",
            {
                "fields": CONNECTION_FIELDS,
                "description": "libpq parameters. The password is never stored "
                "here: name an environment variable of the console's processes "
                "that holds it, or leave that empty for libpq's password file "
                "(PGPASSFILE, ~/.pgpass) or service file.",
            },
        ),
        ("Replication", {"fields": REPLICATION_FIELDS}),
        ("Status", {"fields": STATUS_FIELDS}),
    )

    def get_ordering(self, request):
        return ("-is_console_database", "name")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_console_database:
            return (*CONNECTION_FIELDS, *REPLICATION_FIELDS, *STATUS_FIELDS)
        return STATUS_FIELDS

    def get_actions(self, request):
        # Bulk deletion would collect every history row of every target
        # selected; a target is removed from its own page, counts first.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_console_database:
            return False
        return super().has_delete_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "primary":
            kwargs["queryset"] = MonitoredDatabase.objects.filter(
                role=MonitoredDatabase.PRIMARY
            ).order_by("-is_console_database", "name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="connection")
    def endpoint(self, database):
        if database.is_console_database:
            return "the console's own database"
        if database.service and not database.host:
            return f"service {database.service}"
        host = database.host or "local socket"
        port = f":{database.port}" if database.port else ""
        return f"{host}{port}/{database.dbname or database.service}"

    @admin.display(description="status", ordering="status")
    def status_display(self, database):
        if not database.status_reason:
            return database.get_status_display()
        return format_html(
            "{} <span class='help'>({})</span>",
            database.get_status_display(),
            database.status_reason,
        )

    # -- removal: counts, then bulk deletes ---------------------------------

    def get_deleted_objects(self, objs, request):
        """Count each history table's rows instead of listing every row."""
        summary, model_count = [], {}
        for database in objs:
            counted = history_counts(database)
            standbys = database.standbys.count()
            lines = [f"{name}: {rows:,} rows" for name, rows in counted]
            if standbys:
                lines.append(f"{standbys} standby target(s) lose their primary")
            summary += [f"Monitored database: {database}", lines]
            for name, rows in counted:
                model_count[name] = model_count.get(name, 0) + rows
        model_count[str(self.opts.verbose_name_plural)] = len(objs)
        return summary, model_count, set(), []

    def delete_model(self, request, obj):
        remove_database(obj)

    # -- connection test ----------------------------------------------------

    def has_test_connection_permission(self, request):
        return request.user.is_active and request.user.has_perm(TEST_PERMISSION)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "fleet/",
                self.admin_site.admin_view(self.fleet_view),
                name="{}_{}_fleet".format(*info),
            ),
            path(
                "<path:object_id>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name="{}_{}_test_connection".format(*info),
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_test_connection": self.has_test_connection_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def test_connection_view(self, request, object_id):
        """Test the target's connection (POST), record it, show what was found."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_test_connection_permission(request):
            raise PermissionDenied
        database = self.get_object(request, unquote(object_id))
        if database is None:
            raise Http404("No such monitored database.")
        report = run_connection_test(database)
        self.log_change(request, database, f"Tested the connection: {report.summary()}")
        context = admin_page_context(
            self,
            request,
            f"Connection test of {database.name}",
            database=database,
            report=report,
            findings=FindingTable(report.findings),
            change_url=reverse(
                "admin:history_monitoreddatabase_change", args=[quote(database.pk)]
            ),
        )
        return render_admin_page(
            request, "admin/history/monitoreddatabase/connection_test.html", context
        )

    # -- fleet overview -----------------------------------------------------

    def fleet_view(self, request):
        """Every enabled target, worst first (the model's view permission)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = admin_page_context(
            self, request, "Fleet overview", table=FleetTable(fleet_rows())
        )
        return render_admin_page(
            request, "admin/history/monitoreddatabase/fleet.html", context
        )
