"""The console's one way to show rows: django-tables2 tables in the admin look.

Every table renders with `{% render_table table %}` and the project template
django_tables2/admin_table.html: the admin's classes, sort links, and the
console's pagination without COUNT (LazyPaginator). Each kind of value has
one column class here, so formatting a kind changes it on every page.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import django_tables2 as tables
from django.core.paginator import EmptyPage
from django.utils.html import format_html
from django_tables2 import A, LazyPaginator

from perfconsole.core import formatting

TABLE_TEMPLATE = "django_tables2/admin_table.html"
NUM = {"td": {"class": "num"}, "th": {"class": "num"}}
EMPTY = "–"

# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_value(value: Any) -> Any:
    """Return a cell's value for CSV: raw numbers, ISO times, inert text.

    Query text and object names come from the database's users; text that a
    spreadsheet would run as a formula gets a leading apostrophe (OWASP).
    """
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def status_span(status: str, text: Any = None) -> str:
    """Return a status word (ok, warning, critical) in its colour."""
    return format_html(
        '<span class="pc-status-{}">{}</span>', status, status if text is None else text
    )


class TextColumn(tables.Column):
    """Plain text (escaped); an empty cell shows a dash."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", EMPTY)
        super().__init__(*args, **kwargs)


class NumberColumn(tables.Column):
    """A right-aligned number with separators and two decimals at most.

    Its header sorts largest first on the first click (descending_first):
    a DBA looks for the biggest, slowest, most frequent.
    """

    descending_first = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("attrs", NUM)
        # django-tables2's sort link (order_by_alias.next) honours this.
        kwargs.setdefault("initial_sort_descending", self.descending_first)
        super().__init__(*args, **kwargs)

    def render(self, value: Any) -> Any:
        return formatting.number(value)


class RawNumberColumn(tables.Column):
    """A right-aligned number shown as given: a process id, a check's figure."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("attrs", {"td": {"class": "num"}})
        super().__init__(*args, **kwargs)


class ReadableColumn(NumberColumn):
    """A right-aligned value read as a person reads it, its exact form on hover.

    KIND is one of formatting.READABLE's kinds; CSV exports keep the raw value
    (ConsoleTable.export_rows reads the record, not the cell).
    """

    kind = "duration"
    # The unit of the raw value, named in the CSV export's header.
    export_unit = "ms"

    def render(self, value: Any) -> str:
        return readable_html(value, self.kind)


def readable_html(value: Any, kind: str) -> str:
    """Return a value of a formatting kind readably, its exact form on hover.

    600096.99 as "duration" gives
    `<span title="600096.99 ms">10 min 0 s</span>`.
    """
    shown, exact = formatting.readable(value, kind)
    if not exact:
        return shown
    return format_html('<span title="{}">{}</span>', exact, shown)


class DurationColumn(ReadableColumn):
    """A duration in milliseconds, in the unit that fits: "600 ms", "3.5 s"."""

    kind = "duration"


class SecondsColumn(ReadableColumn):
    """A duration in seconds (or an interval), in the unit that fits."""

    kind = "seconds"
    export_unit = "s"


class BytesColumn(ReadableColumn):
    """A size in bytes as pg_size_pretty prints it, exact bytes on hover."""

    kind = "size"
    export_unit = "bytes"


class IdColumn(RawNumberColumn):
    """An identifier (query id, process id): digits only, an id is no quantity."""

    def render(self, value: Any) -> str:
        return formatting.identifier(value)


class SettingColumn(tables.Column):
    """A server setting as SHOW prints it: 32768 in 8kB pages reads "256MB".

    The unit comes from the record's field named by unit_field
    (pg_settings.unit), or from unit for a column of one unit.
    """

    def __init__(
        self, *args: Any, unit: str = "", unit_field: str = "", **kwargs: Any
    ) -> None:
        self.unit = unit
        self.unit_field = unit_field
        super().__init__(*args, **kwargs)

    def render(self, value: Any, record: Any) -> str:
        unit = self.unit
        if self.unit_field:
            unit = A(self.unit_field).resolve(record, quiet=True) or ""
        return formatting.pg_setting(value, unit)


class YesNoColumn(tables.BooleanColumn):
    """A flag shown as yes or no."""

    def render(self, value: Any, record: Any, bound_column: Any) -> str:
        return "yes" if value else "no"


class TimestampColumn(tables.Column):
    """A moment with seconds in the console's time zone, "3 min ago" on hover.

    With relative=True the relative time shows beside the moment, for
    columns where how long ago matters more than when (a last refresh).
    """

    def __init__(self, *args: Any, relative: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("default", EMPTY)
        self.relative = relative
        super().__init__(*args, **kwargs)

    def render(self, value: Any) -> str:
        if not isinstance(value, datetime):
            return str(value)
        return timestamp_html(value, relative=self.relative)


def timestamp_html(value: datetime, relative: bool = False) -> str:
    """Return a moment with seconds, and how long ago it was on hover or beside."""
    shown, ago = formatting.timestamp(value), formatting.ago(value)
    if relative:
        return format_html('{} <span class="help">({})</span>', shown, ago)
    return format_html('<span title="{}">{}</span>', ago, shown)


class SqlColumn(tables.Column):
    """SQL or a query's text, preformatted and always escaped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", "")
        kwargs.setdefault("orderable", False)
        super().__init__(*args, **kwargs)

    def render(self, value: Any) -> str:
        return format_html('<pre class="pc-sql">{}</pre>', value)


class ConsoleTable(tables.Table):
    """A table in the admin look; subclasses list their columns.

    django-tables2 reads only a class's own Meta: subclasses extend this one.
    """

    class Meta:
        template_name = TABLE_TEMPLATE
        attrs = {"class": "pc-table"}
        empty_text = "No rows."
        default = EMPTY
        # Column order follows the class attributes.
        fields = ()

    def row_class(self, record: Any) -> str:
        """Return the CSS class of a record's row ("" for none)."""
        return ""

    def paginate_lazily(self, per_page: int, page: int) -> None:
        """Paginate without COUNT: a page past the end shows the first one."""
        try:
            self.paginate(LazyPaginator, per_page=per_page, page=page)
        except EmptyPage:
            self.paginate(LazyPaginator, per_page=per_page, page=1)

    def export_rows(self) -> Iterator[list[Any]]:
        """Yield the header and every filtered row, raw values, in order."""
        columns = list(self.columns)
        yield [export_header(column) for column in columns]
        for record in self.data.data:
            yield [
                export_value(A(c.accessor).resolve(record, quiet=True)) for c in columns
            ]


def export_header(column: Any) -> str:
    """Return a bound column's CSV header, naming the unit of its raw numbers."""
    unit = getattr(column.column, "export_unit", "")
    return f"{column.header} ({unit})" if unit else str(column.header)


def column_for(name: str, value: Any) -> tables.Column:
    """Return the column kind for a key of dict rows, judged by name and value.

    The name gives the unit (`_bytes`, `_ms`, `_sec`); value is the first
    non-empty value of the key, which tells moments and numbers from text.
    """
    label = name.replace("_", " ")
    kind: dict[str, Any] = {"verbose_name": label, "orderable": False}
    if name in SQL_KEYS or name.endswith("_definition"):
        return SqlColumn(verbose_name=label)
    if name in ID_KEYS or name.endswith(("_pid", "_queryid")):
        return IdColumn(**kind)
    if isinstance(value, datetime):
        return TimestampColumn(**kind)
    if isinstance(value, timedelta):
        return SecondsColumn(**kind)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        for suffix, column in UNIT_SUFFIXES:
            if name.endswith(suffix):
                kind["verbose_name"] = label.removesuffix(suffix.replace("_", " "))
                return column(**kind)
        return NumberColumn(**kind)
    return TextColumn(**kind)


# Keys of dict rows that identify (a process, a statement): digits only.
ID_KEYS = ("pid", "queryid", "query_id", "oid")
# Unit suffixes of numeric keys, and the column each asks for.
UNIT_SUFFIXES: list[tuple[str, type[tables.Column]]] = [
    ("_bytes", BytesColumn),
    ("_ms", DurationColumn),
    ("_sec", SecondsColumn),
    ("_seconds", SecondsColumn),
]


def first_value(rows: list[Mapping[str, Any]], name: str) -> Any:
    """Return the first value of a key that is not None, else None."""
    return next((row[name] for row in rows if row.get(name) is not None), None)


# Keys of dict rows whose text is SQL or a query: preformatted (and escaped).
SQL_KEYS = ("query", "definition", "blocked_query", "blocking_query")


def rows_table(
    rows: Iterable[Mapping[str, Any]], first: str = "subject"
) -> ConsoleTable:
    """Return a table of dict rows, one column per key of the first row.

    The key named first, if present, comes first; the others keep their order.
    """
    rows = list(rows)
    names = list(rows[0]) if rows else []
    # A pg_size_pretty text beside its byte count says the same thing twice.
    names = [name for name in names if f"{name}_bytes" not in names]
    if first in names:
        names.remove(first)
        names.insert(0, first)
    columns = [(name, column_for(name, first_value(rows, name))) for name in names]
    return ConsoleTable(rows, extra_columns=columns, orderable=False)


class BlockerTable(ConsoleTable):
    """Sessions holding the locks a stopped page waited for (the 503 page)."""

    class Meta(ConsoleTable.Meta):
        attrs = {"class": "pc-table pc-blockers"}
        orderable = False

    pid = TextColumn(verbose_name="pid", empty_values=())
    mode = TextColumn(verbose_name="lock")
    relation = TextColumn(verbose_name="on", default="")
    user_name = TextColumn(verbose_name="user")
    application_name = TextColumn(verbose_name="application")
    client = TextColumn(verbose_name="client")
    state = TextColumn(verbose_name="state")
    since = TimestampColumn(verbose_name="since")
    query = TextColumn(verbose_name="query")

    def render_pid(self, value: Any) -> Any:
        return value or "prepared transaction"

    def render_mode(self, value: Any, record: Any) -> str:
        return value if record["granted"] else f"{value} (waiting)"

    def render_query(self, value: Any) -> str:
        return format_html("<code>{}</code>", value)
