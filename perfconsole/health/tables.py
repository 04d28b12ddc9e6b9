"""Tables of the health pages: the checks' summary and the live sessions."""

import django_tables2 as tables
from django.template.loader import render_to_string
from django.utils.html import format_html

from perfconsole.core.tables import (
    NUM,
    ConsoleTable,
    IdColumn,
    SecondsColumn,
    SqlColumn,
    TextColumn,
    status_span,
)
from perfconsole.health import activity

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
    """Sessions, with cancel and terminate buttons for those allowed."""

    class Meta(ConsoleTable.Meta):
        orderable = False
        empty_text = "No session matches."

    pid = IdColumn(verbose_name="pid")
    database_name = TextColumn(verbose_name="database")
    user_name = TextColumn(verbose_name="user")
    application_name = TextColumn(verbose_name="application")
    client = TextColumn(verbose_name="client")
    state = TextColumn(verbose_name="state")
    duration_sec = SecondsColumn(verbose_name="in state for")
    xact_sec = SecondsColumn(verbose_name="transaction")
    wait_event = TextColumn(verbose_name="wait", default="")
    blocked_by = TextColumn(verbose_name="blocked by", default="")
    query = SqlColumn(verbose_name="query")
    actions = tables.Column(verbose_name="actions", empty_values=())

    def __init__(self, sessions, *, actions, all_databases=False):
        self.actions = actions
        exclude = [] if actions else ["actions"]
        if not all_databases:
            exclude.append("database_name")
        super().__init__(sessions, exclude=exclude)

    def row_class(self, record):
        return "pc-waiting" if record.get("lock_mode") else ""

    def render_actions(self, record):
        """Return a form per action this user may take on the session."""
        context = {"record": record, "actions": self.actions}
        return render_to_string(ACTIONS_TEMPLATE, context, self.request)

    def render_wait_event(self, value, record):
        """Name the lock a waiting session asks for: mode and relation."""
        lock = activity.lock_description(record)
        if lock:
            return format_html("<strong>{}</strong>", lock)
        return f"{record['wait_event_type']}: {value}"

    def render_blocked_by(self, value):
        return ", ".join(str(pid) for pid in value)


class ProgressTable(ConsoleTable):
    """Running VACUUM, ANALYZE, CREATE INDEX and CLUSTER, with their phase."""

    class Meta(ConsoleTable.Meta):
        attrs = {"class": "pc-table", "id": "activity-progress-table"}
        orderable = False
        empty_text = "No VACUUM, ANALYZE, CREATE INDEX or CLUSTER is running."

    pid = IdColumn(verbose_name="pid")
    command = TextColumn(verbose_name="command")
    relation = TextColumn(verbose_name="table")
    phase = TextColumn(verbose_name="phase")
    percent = TextColumn(verbose_name="done", attrs=NUM)
    duration_sec = SecondsColumn(verbose_name="running for")
    query = SqlColumn(verbose_name="query")

    def render_percent(self, value, record):
        return format_html(
            '{} % <span class="help">({} of {} {})</span>',
            value,
            record["done"],
            record["total"],
            record["unit"],
        )
