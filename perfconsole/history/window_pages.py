"""The statistics pages over a time window, read from the history.

The query, index and table pages of the monitoring app show lifetime
counters; with ?window=… (window_form.PRESETS or custom from–to) they show
what happened in that window instead. The window switch above each page
leads from one to the other.
"""

from __future__ import annotations

from django.http import QueryDict
from django_tables2 import RequestConfig

from perfconsole.core.db import QUERY_TAG
from perfconsole.core.pages import (
    admin_page_context,
    csv_response,
    export_querystring,
    render_admin_page,
)
from perfconsole.core.targets import SLOW_QUERY_MS

from .collector import console_database
from .models import query_stat_id
from .window_form import CUSTOM, DEFAULT_WINDOW, PRESETS, WindowForm
from .window_tables import StatementWindowTable
from .windows import change, fetch, previous_window, statement_totals

WINDOW_TEMPLATE = "admin/history/window_table.html"
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
    records = rows(console_database(), start, end)
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
    names = role_names({row["userid"] for row in rows})
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


def role_names(oids):
    """Return {role oid: name} of the given oids, in one query."""
    if not oids:
        return {}
    rows = fetch(
        "SELECT oid::bigint AS oid, rolname FROM pg_roles WHERE oid = ANY(%s)",
        [sorted(oids)],
    )
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
