"""The replication page: one target's standbys, slots and standby side."""

from django.contrib import admin

from perfconsole.core.admin import PageAdmin
from perfconsole.core.db import StatisticsUnavailable
from perfconsole.core.middleware import bad_request
from perfconsole.history.models import MonitoredDatabase
from perfconsole.history.scoping import request_scope

from . import fleet
from .models import Replication
from .statistics import server_replication
from .tables import ConflictTable, SenderTable, SlotTable

TEMPLATE = "admin/replication/replication.html"
PARAMETER = "database"
# A primary key PostgreSQL's bigint can hold has at most 19 digits.
MAX_DIGITS = 18


class BadDatabase(Exception):
    """The requested database is junk or unknown; the message says which."""


def requested_database(request):
    """Return the monitored database of ?database=<id>, else the one the pages show.

    Without the parameter the page follows the switcher (history.scoping):
    the target chosen for every page, the console's own by default.
    """
    values = request.GET.getlist(PARAMETER)
    if not values:
        return request_scope(request).database
    value = values[-1]
    if len(values) > 1 or not (
        value.isascii() and value.isdigit() and len(value) <= MAX_DIGITS
    ):
        raise BadDatabase(
            f"{PARAMETER} must be the number of one monitored database; "
            "choose one from the list on the replication page."
        )
    database = MonitoredDatabase.objects.filter(pk=int(value)).first()
    if database is None:
        raise BadDatabase(f"No monitored database has the number {value}.")
    return database


@admin.register(Replication)
class ReplicationAdmin(PageAdmin):
    """Replication of one target, from both sides."""

    view_permission = "replication.view_replication"

    def page_view(self, request):
        try:
            database = requested_database(request)
        except BadDatabase as error:
            return bad_request(str(error))
        context = {
            "database": database,
            "targets": MonitoredDatabase.objects.order_by(
                "-is_console_database", "name"
            ),
            "standbys": fleet.standbys_of(database),
        }
        try:
            replication = server_replication(fleet.target_alias(database))
        except StatisticsUnavailable as error:
            return self.render_page(
                request, TEMPLATE, "Replication", error=str(error), **context
            )
        return self.render_page(
            request,
            TEMPLATE,
            "Replication",
            error=replication.errors.get("server", ""),
            errors=replication.errors,
            replication=replication,
            receiver=replication.receiver,
            senders=SenderTable(replication.senders),
            slots=SlotTable(replication.slots),
            conflicts=ConflictTable(replication.conflicts),
            **context,
        )
