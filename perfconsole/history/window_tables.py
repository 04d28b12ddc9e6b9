"""Tables of the statistics pages over a window (window_pages)."""

from django.utils.html import format_html

from perfconsole.core.tables import (
    ConsoleTable,
    DurationColumn,
    NumberColumn,
    TextColumn,
)


class ChangeColumn(NumberColumn):
    """A change against the previous window in percent; "new" without a base."""

    def render(self, value):
        return f"{value:+,} %"


class StatementWindowTable(ConsoleTable):
    """Statements over a window (windows.statement_totals rows)."""

    class Meta(ConsoleTable.Meta):
        attrs = {"class": "pc-table", "id": "window-statements"}
        empty_text = (
            "No statement ran in this window (or none was collected yet: the "
            "collection runs every minute)."
        )
        order_by = ("-total_time",)

    query = TextColumn(verbose_name="query")
    calls = NumberColumn(verbose_name="calls")
    calls_change = ChangeColumn(verbose_name="calls change", default="new")
    total_time = DurationColumn(verbose_name="total time")
    total_time_change = ChangeColumn(verbose_name="total time change", default="new")
    mean_time = DurationColumn(verbose_name="mean time")
    rows = NumberColumn(verbose_name="rows")
    shared_blks_hit = NumberColumn(verbose_name="blocks hit")
    shared_blks_read = NumberColumn(verbose_name="blocks read")

    def render_query(self, value, record):
        text = " ".join(value.split())
        if len(text) > 110:
            text = text[:109] + "…"
        return format_html('<a href="{}">{}</a>', record["url"], text)
