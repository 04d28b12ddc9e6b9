"""The refresh history on a materialized view's page."""

from django.template.defaultfilters import truncatechars

from perfconsole.core.tables import (
    ConsoleTable,
    DurationColumn,
    TextColumn,
    TimestampColumn,
)

ERROR_PREVIEW_CHARS = 200


class RefreshHistoryTable(ConsoleTable):
    """A view's latest refreshes, newest first."""

    class Meta(ConsoleTable.Meta):
        orderable = False
        default = ""
        empty_text = "No refresh recorded yet."

    requested_at = TimestampColumn(verbose_name="Requested", relative=True)
    trigger = TextColumn(verbose_name="Trigger")
    triggered_by = TextColumn(verbose_name="By", default="")
    status = TextColumn(verbose_name="Status")
    started_at = TimestampColumn(verbose_name="Started", default="")
    duration_ms = DurationColumn(verbose_name="Duration", default="")
    concurrently = TextColumn(verbose_name="Mode", default="")
    error = TextColumn(verbose_name="Error", default="")

    def render_concurrently(self, value):
        return "concurrently" if value else "plain"

    def render_error(self, value):
        return truncatechars(value, ERROR_PREVIEW_CHARS)
