"""Tables of the compare page: slower, new and gone statements, table scans."""

from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils.html import format_html

from perfconsole.core import formatting
from perfconsole.core.tables import (
    ConsoleTable,
    DurationColumn,
    IdColumn,
    NumberColumn,
    RawNumberColumn,
    SqlColumn,
    TextColumn,
)


def percent(value):
    """Return a change in percent, "new" when there was nothing before."""
    return "new" if value is None else f"+{value:,} %"


class StatementTable(ConsoleTable):
    """Statements of one window or both (rows of compare.statement_row).

    With linked=True the query id links to the statement's page (for users
    who may see it); a statement gone from pg_stat_statements says so there.
    """

    class Meta(ConsoleTable.Meta):
        orderable = False

    queryid = IdColumn(verbose_name="query id")
    query = SqlColumn(verbose_name="query")

    def __init__(self, *args, linked=False, **kwargs):
        self.linked = linked
        super().__init__(*args, **kwargs)

    def render_queryid(self, value, record):
        shown = formatting.identifier(value)
        if not self.linked:
            return shown
        url = reverse(
            "admin:monitoring_querystat_change", args=[quote(record["page_id"])]
        )
        return format_html('<a href="{}">{}</a>', url, shown)


class SlowerTable(StatementTable):
    """Statements whose mean time rose past the threshold."""

    class Meta(StatementTable.Meta):
        empty_text = "No statement got slower past the threshold."

    before_mean_time = DurationColumn(verbose_name="mean before")
    after_mean_time = DurationColumn(verbose_name="mean after")
    mean_change = RawNumberColumn(verbose_name="change")
    before_calls = NumberColumn(verbose_name="calls before")
    after_calls = NumberColumn(verbose_name="calls after")
    after_total_time = DurationColumn(verbose_name="total time after")

    def render_mean_change(self, value):
        return percent(value)


class NewTable(StatementTable):
    """Statements that ran in the after window only."""

    class Meta(StatementTable.Meta):
        empty_text = "No new statement."

    after_calls = NumberColumn(verbose_name="calls")
    after_mean_time = DurationColumn(verbose_name="mean time")
    after_total_time = DurationColumn(verbose_name="total time")
    after_rows = NumberColumn(verbose_name="rows")


class GoneTable(StatementTable):
    """Statements that ran in the before window only."""

    class Meta(StatementTable.Meta):
        empty_text = "No statement disappeared."

    before_calls = NumberColumn(verbose_name="calls")
    before_mean_time = DurationColumn(verbose_name="mean time")
    before_total_time = DurationColumn(verbose_name="total time")
    before_rows = NumberColumn(verbose_name="rows")


class SeqScanTable(ConsoleTable):
    """Tables whose sequential scans per hour rose past the threshold."""

    class Meta(ConsoleTable.Meta):
        orderable = False
        empty_text = "No table's sequential scans rose past the threshold."

    table = TextColumn(verbose_name="table")
    before_seq_scan = NumberColumn(verbose_name="seq scans before")
    after_seq_scan = NumberColumn(verbose_name="seq scans after")
    before_per_hour = NumberColumn(verbose_name="per hour before")
    after_per_hour = NumberColumn(verbose_name="per hour after")
    rise = RawNumberColumn(verbose_name="change", empty_values=())
    after_seq_tup_read = NumberColumn(verbose_name="rows read by them after")

    def render_rise(self, value):
        return percent(value)
