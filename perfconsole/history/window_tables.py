"""Tables of the statistics pages over a window (window_pages)."""

from django.contrib.admin.utils import quote
from django.http import QueryDict
from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils.html import format_html

from perfconsole.core.tables import (
    ConsoleTable,
    DurationColumn,
    NumberColumn,
    TextColumn,
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
