"""Tables of the statistics views: sortable, in the admin look (core.tables)."""

from django.contrib.admin.utils import quote
from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils.html import format_html

from perfconsole.core.tables import (
    BytesColumn,
    ConsoleTable,
    DateTimeColumn,
    NumberColumn,
    TextColumn,
    YesNoColumn,
    status_span,
)

QUERY_PREVIEW_CHARS = 160


class StatsTable(ConsoleTable):
    """A statistics view's table."""

    class Meta(ConsoleTable.Meta):
        pass


class QueryTable(StatsTable):
    class Meta(StatsTable.Meta):
        pass

    query = TextColumn(verbose_name="Query", orderable=False)
    user_name = TextColumn(verbose_name="User")
    calls = NumberColumn()
    total_time_ms = NumberColumn(verbose_name="Total (ms)")
    mean_time_ms = NumberColumn(verbose_name="Mean (ms)")
    max_time_ms = NumberColumn(verbose_name="Max (ms)")
    share_of_total = NumberColumn(verbose_name="Share (%)")
    rows = NumberColumn()
    cache_hit_ratio = NumberColumn(verbose_name="Cache hit (%)")
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


class LockedWhenEmpty:
    """A column left empty while another session locks the row's relation.

    The views leave such a value out rather than wait for the lock;
    size_locked_by names the session holding it.
    """

    # Render None too: the cell says why it is empty.
    empty_values = ()

    def __init__(self, *args, what="size", **kwargs):
        self.what = what
        super().__init__(*args, **kwargs)

    def render(self, value, record, bound_column):
        if value is not None:
            return super().render(value)
        if record.size_locked_by is not None:
            return locked_note(self.what, record.size_locked_by)
        return bound_column.default


class LockedBytesColumn(LockedWhenEmpty, BytesColumn):
    """A size that a lock on its relation leaves unread."""


class LockedTextColumn(LockedWhenEmpty, TextColumn):
    """Text (an index definition) that a lock on its relation leaves unread."""


class LockedSizesTable(StatsTable):
    """A table whose row is highlighted while its relation is locked."""

    class Meta(StatsTable.Meta):
        pass

    def row_class(self, record):
        return "pc-locked" if record.size_locked_by is not None else ""


class IndexTable(LockedSizesTable):
    class Meta(StatsTable.Meta):
        pass

    schema_name = TextColumn(verbose_name="Schema")
    table_name = TextColumn(verbose_name="Table")
    index_name = TextColumn(verbose_name="Index")
    index_size_bytes = LockedBytesColumn(verbose_name="Size")
    idx_scan = NumberColumn(verbose_name="Scans")
    idx_tup_read = NumberColumn(verbose_name="Tuples read")
    idx_tup_fetch = NumberColumn(verbose_name="Tuples fetched")
    index_usage_ratio = NumberColumn(verbose_name="Table index use (%)")
    is_unique = YesNoColumn(verbose_name="Unique")
    is_primary = YesNoColumn(verbose_name="Primary")
    is_valid = YesNoColumn(verbose_name="Valid")
    last_idx_scan = DateTimeColumn(verbose_name="Last scan")
    definition = LockedTextColumn(orderable=False, what="definition")


class TableTable(LockedSizesTable):
    class Meta(StatsTable.Meta):
        pass

    schema_name = TextColumn(verbose_name="Schema")
    table_name = TextColumn(verbose_name="Table")
    n_live_tup = NumberColumn(verbose_name="Live")
    n_dead_tup = NumberColumn(verbose_name="Dead")
    dead_ratio = NumberColumn(verbose_name="Dead (%)")
    seq_scan = NumberColumn(verbose_name="Seq scans")
    idx_scan = NumberColumn(verbose_name="Index scans")
    seq_scan_ratio = NumberColumn(verbose_name="Seq scan (%)")
    seq_tup_read = NumberColumn(verbose_name="Seq tuples read")
    n_tup_ins = NumberColumn(verbose_name="Inserts")
    n_tup_upd = NumberColumn(verbose_name="Updates")
    n_tup_del = NumberColumn(verbose_name="Deletes")
    n_tup_hot_upd = NumberColumn(verbose_name="HOT updates")
    heap_hit_ratio = NumberColumn(verbose_name="Heap hit (%)")
    idx_hit_ratio = NumberColumn(verbose_name="Index hit (%)")
    table_size_bytes = LockedBytesColumn(verbose_name="Table")
    indexes_size_bytes = LockedBytesColumn(verbose_name="Indexes")
    toast_size_bytes = LockedBytesColumn(verbose_name="TOAST")
    last_vacuum = DateTimeColumn(default="–")
    last_autovacuum = DateTimeColumn(default="–")
    last_analyze = DateTimeColumn(default="–")
    last_autoanalyze = DateTimeColumn(default="–")


class SlowQueryTable(QueryTable):
    class Meta(StatsTable.Meta):
        pass

    detail_url_name = "monitoring_slowquery_change"


def warn_if(flag):
    """Return a td class function: a warning when the record's flag is set."""
    return lambda record: "pc-status-warning" if getattr(record, flag) else None


class SettingsTable(ConsoleTable):
    """The settings review: current value beside the seed's and PGTune's."""

    class Meta(ConsoleTable.Meta):
        orderable = False

    category = TextColumn(verbose_name="Category")
    name = TextColumn(verbose_name="Setting")
    current = TextColumn(verbose_name="Current", default="(empty)")
    seed_recommended = TextColumn(
        verbose_name="Seed", attrs={"td": {"class": warn_if("differs_from_seed")}}
    )
    computed = TextColumn(
        verbose_name="PGTune", attrs={"td": {"class": warn_if("differs_from_computed")}}
    )
    differs = TextColumn(verbose_name="Differs", empty_values=())
    pending_restart = TextColumn(verbose_name="Pending restart", empty_values=())
    context = TextColumn(verbose_name="Takes effect")

    def render_name(self, value):
        return format_html("<code>{}</code>", value)

    def render_differs(self, value):
        if value:
            return status_span("warning", "differs")
        return status_span("ok")

    def render_pending_restart(self, value):
        if value:
            return format_html(
                '<span class="pc-status-critical">restart pending</span>'
            )
        return "no"
