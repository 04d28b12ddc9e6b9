"""Tables of the statistics views: sortable, in the admin look (core.tables)."""

from django.contrib.admin.utils import quote
from django.db.models import F
from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils.html import format_html

from perfconsole.core.tables import (
    BytesColumn,
    ConsoleTable,
    DurationColumn,
    NumberColumn,
    SettingColumn,
    TextColumn,
    TimestampColumn,
    YesNoColumn,
    status_span,
)

QUERY_PREVIEW_CHARS = 160


class StatsTable(ConsoleTable):
    """A statistics view's table.

    main_columns are the ones a DBA reads first, shown by default so the
    table fits a laptop screen; ?columns=all and the CSV export show all.
    Empty: every column is a main one.
    """

    class Meta(ConsoleTable.Meta):
        pass

    main_columns: tuple[str, ...] = ()

    @classmethod
    def hidden_columns(cls):
        """Return the names of the columns left out unless all are asked for."""
        if not cls.main_columns:
            return ()
        return tuple(name for name in cls.base_columns if name not in cls.main_columns)


class QueryTable(StatsTable):
    class Meta(StatsTable.Meta):
        # Where the time goes first; marked on its column.
        order_by = ("-total_time_ms",)

    query = TextColumn(verbose_name="Query", orderable=False)
    user_name = TextColumn(verbose_name="User")
    calls = NumberColumn()
    total_time_ms = DurationColumn(verbose_name="Total")
    mean_time_ms = DurationColumn(verbose_name="Mean")
    max_time_ms = DurationColumn(verbose_name="Max")
    share_of_total = NumberColumn(verbose_name="Share (%)")
    rows = NumberColumn()
    cache_hit_ratio = NumberColumn(verbose_name="Cache hit (%)")
    io_time_ms = DurationColumn(verbose_name="I/O")

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
        # Least scanned first, among equals the largest (order_idx_scan):
        # unused large indexes lead.
        order_by = ("idx_scan",)

    main_columns = (
        "schema_name",
        "table_name",
        "index_name",
        "index_size_bytes",
        "idx_scan",
        "idx_tup_read",
        "index_usage_ratio",
        "is_unique",
        "last_idx_scan",
    )

    def order_idx_scan(self, queryset, is_descending):
        """Order by scans, then by size (largest first, unread sizes last)."""
        scans = F("idx_scan").desc() if is_descending else F("idx_scan").asc()
        size = F("index_size_bytes").desc(nulls_last=True)
        return queryset.order_by(scans, size, "index_name"), True

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
    last_idx_scan = TimestampColumn(verbose_name="Last scan")
    definition = LockedTextColumn(orderable=False, what="definition")


class TableTable(LockedSizesTable):
    class Meta(StatsTable.Meta):
        order_by = ("-total_size_bytes",)

    main_columns = (
        "schema_name",
        "table_name",
        "total_size_bytes",
        "seq_scan",
        "seq_tup_read",
        "idx_scan",
        "seq_scan_ratio",
        "n_live_tup",
        "n_dead_tup",
        "dead_ratio",
        "last_vacuumed",
        "last_analyzed",
    )
    total_size_bytes = LockedBytesColumn(verbose_name="Size")
    # The later of the manual and the automatic one (annotated by the page).
    last_vacuumed = TimestampColumn(verbose_name="Last (auto)vacuum")
    last_analyzed = TimestampColumn(verbose_name="Last (auto)analyze")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("sequence", (*self.main_columns, "..."))
        super().__init__(*args, **kwargs)

    def order_total_size_bytes(self, queryset, is_descending):
        """Order by total size; sizes a lock left unread come last."""
        size = F("total_size_bytes")
        size = size.desc(nulls_last=True) if is_descending else size.asc()
        return queryset.order_by(size, "table_name"), True

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
    last_vacuum = TimestampColumn()
    last_autovacuum = TimestampColumn()
    last_analyze = TimestampColumn()
    last_autoanalyze = TimestampColumn()


class SlowQueryTable(QueryTable):
    class Meta(QueryTable.Meta):
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
    # Recommendations without a unit are in the setting's own (pg_settings.unit).
    seed_recommended = SettingColumn(
        verbose_name="Seed",
        unit_field="unit",
        attrs={"td": {"class": warn_if("differs_from_seed")}},
    )
    computed = SettingColumn(
        verbose_name="PGTune",
        unit_field="unit",
        attrs={"td": {"class": warn_if("differs_from_computed")}},
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
