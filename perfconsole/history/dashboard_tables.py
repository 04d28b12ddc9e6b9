"""Tables of the dashboard: the window's top queries, the latest refreshes."""

from django.utils.html import format_html

from perfconsole.core.tables import (
    ConsoleTable,
    DurationColumn,
    NumberColumn,
    TextColumn,
    TimestampColumn,
)


class TopQueryTable(ConsoleTable):
    """The window's statements with the most total time (dashboard.top_statements).

    The text links to the statement's page when the page exists (url).
    """

    class Meta(ConsoleTable.Meta):
        orderable = False
        attrs = {"class": "pc-table", "id": "top-queries"}
        empty_text = "No statement ran in this window (or none was collected yet)."

    query = TextColumn(verbose_name="query")
    calls = NumberColumn(verbose_name="calls")
    total_time = DurationColumn(verbose_name="total time")
    mean_time = DurationColumn(verbose_name="mean time")
    total_time_change = TextColumn(
        verbose_name="change of total time",
        empty_values=(),
        attrs={"td": {"class": "num"}},
    )

    def render_query(self, value, record):
        text = " ".join(value.split())
        if len(text) > 110:
            text = text[:109] + "…"
        if not record.get("url"):
            return text
        return format_html('<a href="{}">{}</a>', record["url"], text)

    def render_calls(self, value):
        return f"{value:,.0f}"

    def render_total_time_change(self, value):
        return "new" if value is None else f"{value:+,} %"


class RefreshTable(ConsoleTable):
    """The latest materialized view refreshes (maintenance.ViewRefresh)."""

    class Meta(ConsoleTable.Meta):
        orderable = False
        attrs = {"class": "pc-table", "id": "latest-refreshes"}
        empty_text = "No refresh yet."

    view_name = TextColumn(verbose_name="view")
    status = TextColumn(verbose_name="status", accessor="get_status_display")
    trigger = TextColumn(verbose_name="trigger", accessor="get_trigger_display")
    requested_at = TimestampColumn(verbose_name="requested", relative=True)
    duration_ms = DurationColumn(verbose_name="duration")
