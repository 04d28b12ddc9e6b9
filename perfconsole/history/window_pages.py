"""The statistics pages over a time window, read from the history.

The query, index and table pages of the monitoring app show lifetime
counters; with ?window=… (window_form.PRESETS or custom from–to) they show
what happened in that window instead. The window switch above each page
leads from one to the other.
"""

from __future__ import annotations

from django.http import QueryDict
from django.urls import reverse
from django_tables2 import RequestConfig

from perfconsole.core.pages import admin_page_context, render_admin_page

from .collector import console_database
from .models import query_stat_id
from .window_form import CUSTOM, PRESETS, WindowForm
from .window_tables import StatementWindowTable
from .windows import statement_totals

WINDOW_TEMPLATE = "admin/history/window_table.html"
PER_PAGE = 50


def window_switch(request):
    """Return the window switch: its links [(label, query string, current)].

    "lifetime" is the page without a window; the others keep the page's
    other parameters (filters, sort) and drop its page number. A custom
    from–to is chosen in the window form of a windowed page.
    """
    chosen = request.GET.get("window", "")
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


def window_table_page(model_admin, request, *, rows, table_class, description):
    """Render rows(database, start, end) of the chosen window as a table.

    A bad window answers 400 with the form's error, nothing read.
    """
    form = WindowForm(request.GET)
    context = admin_page_context(
        model_admin,
        request,
        model_admin.title,
        form=form,
        window_switch=window_switch(request),
        description=description,
    )
    if not form.is_valid():
        return render_admin_page(request, WINDOW_TEMPLATE, context, status=400)
    start, end = form.bounds()
    table = table_class(rows(console_database(), start, end))
    RequestConfig(request, paginate=False).configure(table)
    table.paginate_lazily(per_page=PER_PAGE, page=page_number(request))
    context.update(table=table, window_label=form.label(), start=start, end=end)
    return render_admin_page(request, WINDOW_TEMPLATE, context)


def page_number(request):
    """Return the page asked for, the first for anything but a positive number."""
    page = request.GET.get("page", "")
    return int(page) if page.isdigit() and int(page) > 0 else 1


def statement_rows(database, start, end):
    """Return the window's statements, each with a link to its page."""
    rows = statement_totals(database, start, end)
    for row in rows:
        row["url"] = reverse(
            "admin:monitoring_querystat_change",
            args=[query_stat_id(row["queryid"], row["userid"], row["toplevel"])],
        )
    return rows


def statements_page(model_admin, request):
    """Render the query statistics over a window."""
    return window_table_page(
        model_admin,
        request,
        rows=statement_rows,
        table_class=StatementWindowTable,
        description=(
            "What each statement did in the window, from the statistics "
            "history (collected every minute), with the change against the "
            "window of the same length before it."
        ),
    )
