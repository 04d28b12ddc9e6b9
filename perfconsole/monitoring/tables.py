"""django-tables2 tables of the statistics views, sortable, in the admin look."""

from datetime import datetime

import django_tables2 as tables
from django.contrib.admin.utils import quote
from django.template.defaultfilters import filesizeformat, truncatechars
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe

NUM = {"td": {"class": "num"}, "th": {"class": "num"}}
QUERY_PREVIEW_CHARS = 160


class NumberColumn(tables.Column):
    """A right-aligned number shown with two decimals at most."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", NUM)
        super().__init__(*args, **kwargs)

    def render(self, value):
        if isinstance(value, float):
            return f"{value:,.2f}"
        return f"{value:,}"


class BytesColumn(NumberColumn):
    """A size in bytes, shown human-readable, exported as bytes."""

    def render(self, value):
        return filesizeformat(value)


# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_value(value):
    """Return a cell's value for CSV: raw numbers, ISO times, inert text.

    Query text and object names come from the database's users; text that a
    spreadsheet would run as a formula gets a leading apostrophe (OWASP).
    """
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


class StatsTable(tables.Table):
    """A table that django-tables2 sorts and pages, rendered by hand.

    django-tables2 inspects each cell's render signature, which costs about
    a millisecond per cell on a busy machine; the pages render their cells
    here instead, with the same column definitions.
    """

    # django-tables2 reads only a class's own Meta: subclasses extend this.
    class Meta:
        attrs = {"class": "pc-table"}
        empty_text = "No rows."
        # Column order follows the class attributes.
        fields = ()

    def header_cells(self, request):
        """Return (label, sort URL or None, css class, arrow) per column."""
        query = request.GET.copy()
        query.pop("page", None)
        query.pop("_export", None)
        cells = []
        for column in self.columns:
            url = None
            if column.orderable:
                query[self.prefixed_order_by_field] = column.order_by_alias.next
                url = "?" + query.urlencode()
            arrow = ""
            if column.is_ordered:
                arrow = "▼" if column.order_by_alias.is_descending else "▲"
            css = column.column.attrs.get("th", {}).get("class", "")
            cells.append((column.header, url, css, arrow))
        return cells

    def cell(self, column, record):
        """Return one cell's display value (escaped later unless safe)."""
        value = getattr(record, column.accessor)
        if value is None:
            return self.missing(column, record)
        custom = getattr(self, f"render_{column.name}", None)
        if custom is not None:
            return custom(value=value, record=record)
        kind = column.column
        if isinstance(kind, NumberColumn):
            return kind.render(value)
        if isinstance(kind, tables.BooleanColumn):
            return "yes" if value else "no"
        if isinstance(value, datetime):
            return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
        return value

    def missing(self, column, record):
        """Return what an empty cell shows."""
        return column.default

    def row_class(self, record):
        """Return the CSS class of a record's row."""
        return ""

    def body_html(self):
        """Return the current page's <tr> rows, every value escaped.

        Built here rather than in a template loop: a page has hundreds of
        cells and the template engine costs tens of milliseconds for them.
        """
        columns = [
            (column, column.column.attrs.get("td", {}).get("class", ""))
            for column in self.columns
        ]
        rows = []
        for record in (row.record for row in self.page.object_list):
            cells = "".join(
                f'<td class="{css}">{conditional_escape(self.cell(col, record))}</td>'
                for col, css in columns
            )
            css = self.row_class(record)
            rows.append(
                f'<tr class="{css}">{cells}</tr>' if css else f"<tr>{cells}</tr>"
            )
        return mark_safe("\n".join(rows))  # noqa: S308 - cells escaped above

    def export_rows(self):
        """Yield the header and every filtered row, raw values, in order."""
        columns = list(self.columns)
        yield [str(column.header) for column in columns]
        for record in self.data.data:
            yield [export_value(getattr(record, c.accessor)) for c in columns]


class QueryTable(StatsTable):
    class Meta(StatsTable.Meta):
        pass

    query = tables.Column(verbose_name="Query", orderable=False)
    user_name = tables.Column(verbose_name="User")
    calls = NumberColumn()
    total_time_ms = NumberColumn(verbose_name="Total (ms)")
    mean_time_ms = NumberColumn(verbose_name="Mean (ms)")
    max_time_ms = NumberColumn(verbose_name="Max (ms)")
    share_of_total = NumberColumn(verbose_name="Share (%)", default="–")
    rows = NumberColumn()
    cache_hit_ratio = NumberColumn(verbose_name="Cache hit (%)", default="–")
    io_time_ms = NumberColumn(verbose_name="I/O (ms)")

    admin_site_name = "admin"
    detail_url_name = "monitoring_querystat_change"

    def render_query(self, value, record):
        """Link the shortened text to the query page."""
        # format_html escapes the text: query comments may hold HTML.
        url = reverse(
            f"{self.admin_site_name}:{self.detail_url_name}", args=[quote(record.pk)]
        )
        return format_html(
            '<a href="{}"><code>{}</code></a>',
            url,
            truncatechars(value, QUERY_PREVIEW_CHARS),
        )


def locked_note(what, pid):
    """Say why a size could not be read: another session's exclusive lock."""
    holder = f"pid {pid}" if pid else "a prepared transaction"
    return f"{what} unavailable: locked by {holder}"


class LockedSizesTable(StatsTable):
    """A table whose size columns are empty while a row's relation is locked.

    The views leave them out rather than wait for the lock; size_locked_by
    names the session holding it.
    """

    class Meta(StatsTable.Meta):
        pass

    locked_columns = {}

    def missing(self, column, record):
        what = self.locked_columns.get(column.name)
        if what and record.size_locked_by is not None:
            return locked_note(what, record.size_locked_by)
        return super().missing(column, record)

    def row_class(self, record):
        return "pc-locked" if record.size_locked_by is not None else ""


class IndexTable(LockedSizesTable):
    class Meta(StatsTable.Meta):
        pass

    schema_name = tables.Column(verbose_name="Schema")
    table_name = tables.Column(verbose_name="Table")
    index_name = tables.Column(verbose_name="Index")
    index_size_bytes = BytesColumn(verbose_name="Size")
    idx_scan = NumberColumn(verbose_name="Scans")
    idx_tup_read = NumberColumn(verbose_name="Tuples read")
    idx_tup_fetch = NumberColumn(verbose_name="Tuples fetched")
    index_usage_ratio = NumberColumn(verbose_name="Table index use (%)", default="–")
    is_unique = tables.BooleanColumn(verbose_name="Unique")
    is_primary = tables.BooleanColumn(verbose_name="Primary")
    is_valid = tables.BooleanColumn(verbose_name="Valid")
    last_idx_scan = tables.DateTimeColumn(verbose_name="Last scan", default="–")
    definition = tables.Column(orderable=False, default="–")

    locked_columns = {"index_size_bytes": "size", "definition": "definition"}


class TableTable(LockedSizesTable):
    class Meta(StatsTable.Meta):
        pass

    schema_name = tables.Column(verbose_name="Schema")
    table_name = tables.Column(verbose_name="Table")
    n_live_tup = NumberColumn(verbose_name="Live")
    n_dead_tup = NumberColumn(verbose_name="Dead")
    dead_ratio = NumberColumn(verbose_name="Dead (%)", default="–")
    seq_scan = NumberColumn(verbose_name="Seq scans")
    idx_scan = NumberColumn(verbose_name="Index scans")
    seq_scan_ratio = NumberColumn(verbose_name="Seq scan (%)", default="–")
    seq_tup_read = NumberColumn(verbose_name="Seq tuples read")
    n_tup_ins = NumberColumn(verbose_name="Inserts")
    n_tup_upd = NumberColumn(verbose_name="Updates")
    n_tup_del = NumberColumn(verbose_name="Deletes")
    n_tup_hot_upd = NumberColumn(verbose_name="HOT updates")
    heap_hit_ratio = NumberColumn(verbose_name="Heap hit (%)", default="–")
    idx_hit_ratio = NumberColumn(verbose_name="Index hit (%)", default="–")
    table_size_bytes = BytesColumn(verbose_name="Table")
    indexes_size_bytes = BytesColumn(verbose_name="Indexes")
    toast_size_bytes = BytesColumn(verbose_name="TOAST")
    last_vacuum = tables.DateTimeColumn(default="–")
    last_autovacuum = tables.DateTimeColumn(default="–")
    last_analyze = tables.DateTimeColumn(default="–")
    last_autoanalyze = tables.DateTimeColumn(default="–")

    locked_columns = {
        "table_size_bytes": "size",
        "indexes_size_bytes": "size",
        "toast_size_bytes": "size",
    }


class SlowQueryTable(QueryTable):
    class Meta(StatsTable.Meta):
        pass

    detail_url_name = "monitoring_slowquery_change"
