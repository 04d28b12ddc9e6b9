"""Tables of the monitored databases' pages.

The fleet overview (one row per target, fleet.FleetRow, worst first) and a
connection test's findings (connection_test.Finding).
"""

from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils.html import format_html

from perfconsole.core.tables import (
    ConsoleTable,
    NumberColumn,
    SqlColumn,
    TextColumn,
    TimestampColumn,
    status_span,
    timestamp_html,
)

# Health states the console colours (core.tables.status_span).
COLOURED = {"ok", "warning", "critical"}
STATUS_COLOURS = {"up": "ok", "lagging": "warning", "down": "critical"}


class FleetTable(ConsoleTable):
    """Status, health, alerts, connections, throughput and last collection."""

    class Meta(ConsoleTable.Meta):
        orderable = False
        attrs = {"class": "pc-table", "id": "fleet"}
        empty_text = "No enabled target."

    name = TextColumn(verbose_name="target", accessor="database__name")
    status = TextColumn(verbose_name="status", empty_values=())
    health = TextColumn(verbose_name="worst health state", empty_values=())
    alerts = NumberColumn(verbose_name="open alerts")
    connections = NumberColumn(verbose_name="client connections")
    tps = NumberColumn(verbose_name="transactions per second")
    last_collection = TimestampColumn(verbose_name="last collection", relative=True)

    def render_name(self, value, record):
        url = reverse(
            "admin:history_monitoreddatabase_change", args=[quote(record.database.pk)]
        )
        role = record.database.get_role_display()
        return format_html(
            '<a href="{}">{}</a> <span class="help">{}</span>', url, value, role
        )

    def render_status(self, value, record):
        word = status_span(STATUS_COLOURS.get(value, "warning"), value)
        since = (
            format_html(" since {}", timestamp_html(record.since, relative=True))
            if record.since
            else ""
        )
        reason = format_html(": {}", record.reason) if record.reason else ""
        return format_html("{}{}{}", word, since, reason)

    def render_health(self, value, record):
        if value is None:
            return record.health_note or "not checked"
        word = status_span(value) if value in COLOURED else value
        if not record.health_note:
            return word
        return format_html(
            '{} <span class="help">({})</span>', word, record.health_note
        )


class FindingTable(ConsoleTable):
    """What a connection test looked at: works or not, what it found, the fix."""

    class Meta(ConsoleTable.Meta):
        orderable = False
        attrs = {"class": "pc-table", "id": "test-findings"}

    name = TextColumn(verbose_name="what")
    ok = TextColumn(verbose_name="works")
    detail = TextColumn(verbose_name="found")
    fix = SqlColumn(verbose_name="how to fix", empty_values=())

    def render_ok(self, value):
        return status_span("ok" if value else "warning", "yes" if value else "no")

    def render_fix(self, value):
        if not value:
            return ""
        return format_html('<pre class="pc-sql">{}</pre>', "\n".join(value))
