"""The console's one way to show rows: django-tables2 tables in the admin look.

Every table renders with `{% render_table table %}` and the project template
django_tables2/admin_table.html: the admin's classes, sort links, and the
console's pagination without COUNT (LazyPaginator). Each kind of value has
one column class here, so formatting a kind changes it on every page.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import django_tables2 as tables
from django.core.paginator import EmptyPage
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django_tables2 import A, LazyPaginator

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
    """A right-aligned number with separators and two decimals at most."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("attrs", NUM)
        super().__init__(*args, **kwargs)

    def render(self, value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}"
        return f"{value:,}"


class RawNumberColumn(tables.Column):
    """A right-aligned number shown as given: a process id, a check's figure."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("attrs", {"td": {"class": "num"}})
        super().__init__(*args, **kwargs)


class BytesColumn(NumberColumn):
    """A size in bytes, shown human-readable (exported as bytes)."""

    def render(self, value: Any) -> str:
        return filesizeformat(value)


class YesNoColumn(tables.BooleanColumn):
    """A flag shown as yes or no."""

    def render(self, value: Any, record: Any, bound_column: Any) -> str:
        return "yes" if value else "no"


class DateTimeColumn(tables.Column):
    """A moment in the console's time zone, short format."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", EMPTY)
        super().__init__(*args, **kwargs)

    def render(self, value: Any) -> str:
        if isinstance(value, datetime):
            return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
        return str(value)


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
        yield [str(column.header) for column in columns]
        for record in self.data.data:
            yield [
                export_value(A(c.accessor).resolve(record, quiet=True)) for c in columns
            ]


def column_for(name: str, value: Any) -> tables.Column:
    """Return the column kind for a key of a dict row, judged by name and value."""
    label = name.replace("_", " ")
    if name in SQL_KEYS or name.endswith("_definition"):
        return SqlColumn(verbose_name=label)
    if name == "pid" or name.endswith("_pid"):
        return RawNumberColumn(verbose_name=label, orderable=False)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return RawNumberColumn(verbose_name=label, orderable=False)
    return TextColumn(verbose_name=label, orderable=False)


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
    if first in names:
        names.remove(first)
        names.insert(0, first)
    columns = [(name, column_for(name, rows[0][name])) for name in names]
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
    since = DateTimeColumn(verbose_name="since")
    query = TextColumn(verbose_name="query")

    def render_pid(self, value: Any) -> Any:
        return value or "prepared transaction"

    def render_mode(self, value: Any, record: Any) -> str:
        return value if record["granted"] else f"{value} (waiting)"

    def render_query(self, value: Any) -> str:
        return format_html("<code>{}</code>", value)
