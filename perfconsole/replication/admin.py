"""The replication page: one target's standbys, slots and standby side."""

from django.contrib import admin

from perfconsole.core.admin import PageAdmin
from perfconsole.core.db import StatisticsUnavailable
from perfconsole.history.models import MonitoredDatabase
from perfconsole.history.scoping import request_scope

from . import fleet
from .models import Replication
from .statistics import server_replication
from .tables import ConflictTable, SenderTable, SlotTable

TEMPLATE = "admin/replication/replication.html"


@admin.register(Replication)
class ReplicationAdmin(PageAdmin):
    """Replication of one target, from both sides."""

    view_permission = "replication.view_replication"

    def page_view(self, request):
        database = request_scope(request).database
        context = {
            "database": database,
            "targets": MonitoredDatabase.objects.filter(enabled=True).order_by(
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
