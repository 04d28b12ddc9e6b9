"""The statistics pages over a time window, read from the history.

The query, index and table pages of the monitoring app show lifetime
counters; with ?window=… (window_form.PRESETS or custom from–to) they show
what happened in that window instead. The window switch above each page
leads from one to the other.
"""

from __future__ import annotations

from django.db.models import F, Func, TextField, Value
from django.db.models.functions import Concat
from django.http import Http404, QueryDict
from django.urls import reverse
from django_tables2 import RequestConfig

from perfconsole.core.db import (
    QUERY_TAG,
    StatisticsUnavailable,
    fetch_dicts,
    reading_statistics,
)
from perfconsole.core.pages import (
    admin_page_context,
    csv_response,
    export_querystring,
    render_admin_page,
)
from perfconsole.core.targets import SLOW_QUERY_MS
from perfconsole.monitoring.targetviews import reading_views

from .connections import PasswordMissing, connection_alias
from .models import query_stat_id
from .relations import index_rows, table_chart_data, table_rows
from .scoping import request_scope
from .window_form import CUSTOM, DEFAULT_WINDOW, PRESETS, WindowForm
from .window_tables import (
    IndexWindowTable,
    StatementWindowTable,
    TableWindowTable,
    window_query,
)
from .windows import change, fetch, previous_window, statement_totals

WINDOW_TEMPLATE = "admin/history/window_table.html"
TABLE_HISTORY_TEMPLATE = "admin/history/table_history.html"
PER_PAGE = 50
COUNTS = ("calls", "rows", "shared_blks_hit", "shared_blks_read", "previous_calls")


def window_switch(request):
    """Return the window switch: its links [(label, query string, current)].

    "lifetime" is the page without a window; the others keep the page's
    other parameters (filters, sort) and drop its page number. A custom
    from–to is chosen in the window form of a windowed page.
    """
    chosen = request.GET.get("window", "")
    if "window" in request.GET and not chosen:
        chosen = DEFAULT_WINDOW  # what WindowForm shows for ?window=
    links = []
    for key, label in [("", "lifetime")] + [
        (key, label) for key, (label, _span) in PRESETS.items()
    ]:
        query = QueryDict(mutable=True)
        query.update(
            {
                name: value
                for name, value in request.GET.items()
                if name not in ("window", "start", "end", "page")
            }
        )
        if key:
            query["window"] = key
        links.append((label, query.urlencode(), key == chosen))
    return {"links": links, "custom": chosen == CUSTOM}


def window_table_page(
    model_admin, request, *, rows, table_class, description, filtered=False
):
    """Render rows(database, start, end) of the chosen window as a table.

    The page takes model_admin's filter form (paging, CSV export); filtered
    shows its filters too and keeps the rows its matches() accepts. A bad
    window or filter answers 400 with the form's error, nothing read.
    """
    form = WindowForm(request.GET)
    filters = model_admin.filter_form_class(request.GET)
    context = admin_page_context(
        model_admin,
        request,
        model_admin.title,
        form=form,
        filters=filters,
        show_filters=filtered,
        window_switch=window_switch(request),
        description=description,
        export_query=export_querystring(request),
    )
    # Both validated, so the page names every mistake at once.
    valid = [form.is_valid(), filters.is_valid()]
    if not all(valid):
        return render_admin_page(request, WINDOW_TEMPLATE, context, status=400)
    start, end = form.bounds()
    records = rows(request_scope(request).database, start, end)
    if filtered:
        records = [row for row in records if filters.matches(row)]
    table = table_class(records)
    RequestConfig(request, paginate=False).configure(table)
    data = filters.cleaned_data
    if data.get("_export") == "csv":
        name = f"{model_admin.model._meta.db_table}_{form.cleaned_data['window']}"
        return csv_response(table, name)
    table.paginate_lazily(
        per_page=data.get("per_page") or PER_PAGE, page=data.get("page") or 1
    )
    context.update(
        table=table,
        window_label=form.label(),
        start=start,
        end=end,
        previous_start=previous_window(start, end)[0],
    )
    return render_admin_page(request, WINDOW_TEMPLATE, context)


def statement_rows(database, start, end):
    """Return the window's statements (windows.statement_totals) for the page.

    Each row also has its user's name, whether it is the console's own
    (tagged core.db.QUERY_TAG), the change of its mean time and the id of
    its query page.
    """
    rows = statement_totals(database, start, end)
    names = role_names({row["userid"] for row in rows}, database)
    for row in rows:
        # statement_totals gives floats; counts read (and export) as integers.
        for name in COUNTS:
            row[name] = int(row[name])
        row["user_name"] = names.get(row["userid"], str(row["userid"]))
        row["is_console"] = QUERY_TAG in row["query"]
        previous_calls = row["previous_calls"]
        previous_mean = (
            row["previous_total_time"] / previous_calls if previous_calls else None
        )
        row["mean_time_change"] = (
            None
            if row["mean_time"] is None
            else change(row["mean_time"], previous_mean)
        )
        row["page_id"] = query_stat_id(row["queryid"], row["userid"], row["toplevel"])
    return rows


def slow_statement_rows(database, start, end):
    """Return the window's statements whose mean in it is the seed's slow."""
    return [
        row
        for row in statement_rows(database, start, end)
        if (row["mean_time"] or 0) >= SLOW_QUERY_MS
    ]


def role_names(oids, database=None):
    """Return {role oid: name} of the given oids, in one query.

    The roles are the monitored database's (database None: the console's).
    A target that cannot be reached names none: the history is the
    console's and the page shows it anyway, with the oids.
    """
    if not oids:
        return {}
    sql = "SELECT oid::bigint AS oid, rolname FROM pg_roles WHERE oid = ANY(%s)"
    if database is None or database.is_console_database:
        rows = fetch(sql, [sorted(oids)])
    else:
        try:
            rows = fetch_dicts(sql, [sorted(oids)], using=connection_alias(database))
        except (StatisticsUnavailable, PasswordMissing):
            return {}
    return {row["oid"]: row["rolname"] for row in rows}


def statements_page(model_admin, request):
    """Render the query statistics over a window."""
    return window_table_page(
        model_admin,
        request,
        rows=statement_rows,
        table_class=StatementWindowTable,
        filtered=True,
        description=(
            "What each statement did in the window, from the statistics "
            "history (collected every minute), with the change against the "
            "window of the same length before it; the console's own left out "
            "unless asked for. Times include planning. Click a query for its "
            "page and its charts over this window."
        ),
    )


def slow_statements_page(model_admin, request):
    """Render the statements slow over a window: a mean of a second or more."""
    return window_table_page(
        model_admin,
        request,
        rows=slow_statement_rows,
        table_class=StatementWindowTable,
        filtered=True,
        description=(
            "Statements whose mean time in the window was one second or more "
            "(the seed report's definition, TARGETS.md), planning included, "
            "from the statistics history, with the change against the window "
            "of the same length before it."
        ),
    )


def history_key(name_field):
    """Return the expression of a relation's key in the history.

    The collector keys a relation by quote_ident(schema).quote_ident(name)
    (sql/current/table_v1.sql, index_v1.sql); PostgreSQL quotes it alike.
    """
    return Concat(
        Func(F("schema_name"), function="quote_ident"),
        Value("."),
        Func(F(name_field), function="quote_ident"),
        output_field=TextField(),
    )


def catalog_rows(model_admin, name_field, key=None, using="default"):
    """Return the page's relations in the catalog now, as dicts with their key.

    With key, only the relation of that history key. using: the alias of
    the monitored database, inside targetviews.reading_views(using).
    """
    queryset = (
        model_admin.get_table_queryset()
        .using(using)
        .annotate(key=history_key(name_field))
    )
    if key is not None:
        queryset = queryset.filter(key=key)
    return list(queryset.values())


def relation_page(model_admin, request, *, read, name_field, **options):
    """Render a relation page over a window: the catalog joined with the history.

    read(database, start, end, catalog rows) returns the rows; the page's
    filter form keeps those it matches. Reading inside reading_statistics(),
    a lock or a timeout answers 503 with what happened.
    """

    scope = request_scope(request)

    def rows(database, start, end):
        # The catalog is the target's; the history is the console's.
        with reading_views(scope.alias):
            catalog = catalog_rows(model_admin, name_field, using=scope.alias)
            if scope.is_console:
                return read(database, start, end, catalog)
        with reading_statistics():
            return read(database, start, end, catalog)

    try:
        return window_table_page(
            model_admin, request, rows=rows, filtered=True, **options
        )
    except StatisticsUnavailable as error:
        context = admin_page_context(
            model_admin,
            request,
            model_admin.title,
            error=scope.unavailable(error),
            window_switch=window_switch(request),
        )
        return render_admin_page(request, WINDOW_TEMPLATE, context, status=503)


def tables_page(model_admin, request):
    """Render the tables over a window: scans, writes, rows, size and growth."""
    return relation_page(
        model_admin,
        request,
        read=table_rows,
        name_field="table_name",
        table_class=TableWindowTable,
        description=(
            "What each table did in the window, from the statistics history: "
            "scans (and the change of sequential scans against the window "
            "before), rows written, vacuums and analyzes; live and dead rows "
            "as last collected; its size (table, indexes and TOAST) at the "
            "window's end and its growth over the window. Sizes are read at "
            "most hourly and stored when they change: growth is blank where "
            "the history has no size from the window's start. Click a table "
            "for its charts over the window."
        ),
    )


def indexes_page(model_admin, request):
    """Render the indexes over a window: which ones no query used in it."""
    return relation_page(
        model_admin,
        request,
        read=index_rows,
        name_field="index_name",
        table_class=IndexWindowTable,
        description=(
            "Scans per index in the window, its standbys' included, from the "
            "statistics history. "
            "An index without a scan that the history watched through the "
            "whole window is unused for that long (statistics resets do not "
            "matter: the history counts what happened); one created inside "
            "the window, or a window reaching back before the history began, "
            "says since when it was watched. Unused large indexes lead."
        ),
    )


def table_history_page(model_admin, request):
    """Render one table's size, scans, writes and rows over a window.

    The table is ?table=<its history key>, a table of the catalog now.
    """
    form = WindowForm(request.GET)
    key = request.GET.get("table", "")
    context = admin_page_context(
        model_admin, request, f"Table {key} over time", form=form
    )
    if not form.is_valid():
        return render_admin_page(request, TABLE_HISTORY_TEMPLATE, context, status=400)
    scope = request_scope(request)
    try:
        with reading_views(scope.alias):
            found = catalog_rows(model_admin, "table_name", key=key, using=scope.alias)
        if not found:
            raise Http404(f"No table {key!r} in {scope.name} now.")
        start, end = form.bounds()
        with reading_statistics():
            (row,) = table_rows(scope.database, start, end, found)
            charts = table_chart_data(scope.database, key, start, end)
    except StatisticsUnavailable as error:
        context["error"] = scope.unavailable(error)
        return render_admin_page(request, TABLE_HISTORY_TEMPLATE, context, status=503)
    context.update(
        row=row,
        charts=charts,
        window_label=form.label(),
        start=start,
        end=end,
        tables_url=reverse("admin:monitoring_tableperformance_changelist")
        + "?"
        + window_query(request),
    )
    return render_admin_page(request, TABLE_HISTORY_TEMPLATE, context)
