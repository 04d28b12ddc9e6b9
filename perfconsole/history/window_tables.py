"""Tables of the statistics pages over a window (window_pages)."""

from django.contrib.admin.utils import quote
from django.http import QueryDict
from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils.html import format_html

from perfconsole.core.tables import (
    BytesColumn,
    ConsoleTable,
    DurationColumn,
    NumberColumn,
    TextColumn,
    YesNoColumn,
)
from perfconsole.monitoring.tables import QUERY_PREVIEW_CHARS

# The parameters that choose a window (window_form.WindowForm).
WINDOW_PARAMETERS = ("window", "start", "end")


class ChangeColumn(NumberColumn):
    """A change against the previous window in percent; "new" without a base."""

    export_unit = "%"

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

    # Named as on the lifetime page (monitoring.tables.QueryTable).
    query = TextColumn(verbose_name="Query")
    user_name = TextColumn(verbose_name="User")
    calls = NumberColumn(verbose_name="Calls")
    calls_change = ChangeColumn(verbose_name="Calls change", default="new")
    total_time = DurationColumn(verbose_name="Total")
    total_time_change = ChangeColumn(verbose_name="Total change", default="new")
    mean_time = DurationColumn(verbose_name="Mean")
    mean_time_change = ChangeColumn(verbose_name="Mean change", default="new")
    rows = NumberColumn(verbose_name="Rows")
    shared_blks_hit = NumberColumn(verbose_name="Blocks hit")
    shared_blks_read = NumberColumn(verbose_name="Blocks read")

    def render_query(self, value, record):
        """Link the shortened text to the query's page, its charts on this window."""
        url = reverse(
            "admin:monitoring_querystat_change", args=[quote(record["page_id"])]
        )
        # format_html escapes the text: query comments may hold HTML.
        return format_html(
            '<a href="{}?{}"><code>{}</code></a>',
            url,
            window_query(self.request),
            truncatechars(" ".join(value.split()), QUERY_PREVIEW_CHARS),
        )


def window_query(request):
    """Return the request's window parameters as a query string."""
    window = QueryDict(mutable=True)
    for name in WINDOW_PARAMETERS:
        if name in request.GET:
            window[name] = request.GET[name]
    return window.urlencode()


class TableWindowTable(ConsoleTable):
    """Tables over a window (history.relations.table_rows)."""

    class Meta(ConsoleTable.Meta):
        attrs = {"class": "pc-table", "id": "window-tables"}
        empty_text = "No table matches."
        # What grew the most, then what is read whole the most.
        order_by = ("-growth_bytes",)

    table_name = TextColumn(verbose_name="Table")
    size_bytes = BytesColumn(verbose_name="Size at end")
    growth_bytes = BytesColumn(
        verbose_name="Growth", order_by=("growth_bytes", "seq_scan")
    )
    seq_scan = NumberColumn(verbose_name="Seq scans")
    seq_scan_change = ChangeColumn(verbose_name="Seq scans change", default="new")
    seq_scan_ratio = NumberColumn(verbose_name="Seq scan (%)")
    seq_tup_read = NumberColumn(verbose_name="Seq tuples read")
    idx_scan = NumberColumn(verbose_name="Index scans")
    n_tup_ins = NumberColumn(verbose_name="Inserts")
    n_tup_upd = NumberColumn(verbose_name="Updates")
    n_tup_del = NumberColumn(verbose_name="Deletes")
    vacuums = NumberColumn(verbose_name="Vacuums")
    analyzes = NumberColumn(verbose_name="Analyzes")
    n_live_tup = NumberColumn(verbose_name="Live")
    n_dead_tup = NumberColumn(verbose_name="Dead")

    def render_table_name(self, value, record):
        """Link the table to its charts over the same window."""
        url = reverse("admin:monitoring_tableperformance_history")
        query = QueryDict(window_query(self.request), mutable=True)
        query["table"] = record["key"]
        return format_html(
            '<a href="{}?{}">{}.{}</a>',
            url,
            query.urlencode(),
            record["schema_name"],
            value,
        )


class IndexWindowTable(ConsoleTable):
    """Indexes over a window (history.relations.index_rows)."""

    class Meta(ConsoleTable.Meta):
        attrs = {"class": "pc-table", "id": "window-indexes"}
        empty_text = "No index matches."
        # Unused through the whole window first, among those the largest.
        order_by = ("watch",)

    index_name = TextColumn(verbose_name="Index")
    table_name = TextColumn(verbose_name="Table")
    watch = TextColumn(
        verbose_name="In the window",
        order_by=("watch_rank", "-index_size_bytes", "index_name"),
    )
    index_size_bytes = BytesColumn(verbose_name="Size now")
    idx_scan = NumberColumn(verbose_name="Scans")
    idx_tup_read = NumberColumn(verbose_name="Tuples read")
    idx_tup_fetch = NumberColumn(verbose_name="Tuples fetched")
    is_unique = YesNoColumn(verbose_name="Unique")

    def render_table_name(self, value, record):
        return f"{record['schema_name']}.{value}"

    def render_watch(self, value, record):
        if record["watch_rank"] == 0:
            return format_html('<span class="pc-status-warning">{}</span>', value)
        return value
