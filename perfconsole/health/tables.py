"""Tables of the health pages: the checks' summary and the live sessions."""

import django_tables2 as tables
from django.template.loader import render_to_string
from django.utils.html import format_html

from perfconsole.core.tables import (
    NUM,
    ConsoleTable,
    RawNumberColumn,
    SqlColumn,
    TextColumn,
    status_span,
)

ACTIONS_TEMPLATE = "admin/health/_session_actions.html"


class CheckSummaryTable(ConsoleTable):
    """One row per check: a link to its section, its status, its summary."""

    class Meta(ConsoleTable.Meta):
        attrs = {"class": "pc-table", "id": "health-summary"}
        orderable = False

    title = TextColumn(verbose_name="check")
    status = TextColumn(verbose_name="status")
    summary = TextColumn(verbose_name="summary")

    def render_title(self, value, record):
        return format_html('<a href="#check-{}">{}</a>', record.key, value)

    def render_status(self, value):
        return status_span(value)


class SessionTable(ConsoleTable):
    """Non-idle sessions, with cancel and terminate buttons for those allowed."""

    class Meta(ConsoleTable.Meta):
        orderable = False
        empty_text = "No non-idle session."

    pid = RawNumberColumn(verbose_name="pid")
    user_name = TextColumn(verbose_name="user")
    application_name = TextColumn(verbose_name="application")
    client = TextColumn(verbose_name="client")
    state = TextColumn(verbose_name="state")
    duration_sec = RawNumberColumn(verbose_name="running (s)", attrs=NUM)
    xact_sec = RawNumberColumn(verbose_name="transaction (s)", attrs=NUM)
    wait_event = TextColumn(verbose_name="wait", default="")
    blocked_by = TextColumn(verbose_name="blocked by", default="")
    query = SqlColumn(verbose_name="query")
    actions = tables.Column(verbose_name="actions", empty_values=())

    def __init__(self, sessions, *, actions):
        self.actions = actions
        super().__init__(sessions, exclude=() if actions else ("actions",))

    def render_actions(self, record):
        """Return a form per action this user may take on the session."""
        context = {"record": record, "actions": self.actions}
        return render_to_string(ACTIONS_TEMPLATE, context, self.request)

    def render_wait_event(self, value, record):
        return f"{record['wait_event_type']}: {value}"

    def render_blocked_by(self, value):
        return ", ".join(str(pid) for pid in value)
