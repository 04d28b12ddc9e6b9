"""The one way a custom admin page is built: the admin's context, then render.

Every console page that is not a Django change list or change form (the
statistics tables, health, analyzer, benchmarks, a materialized view's page,
the timeout page) takes its context from admin_page_context() and renders
with render_admin_page(). A table's rows leave as CSV through csv_response().
"""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import admin
from django.contrib.admin import AdminSite, ModelAdmin
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from perfconsole.core.tables import ConsoleTable

PAGE_TEMPLATE = "admin/perfconsole/page.html"


def admin_page_context(
    model_admin_or_site: ModelAdmin | AdminSite | None,
    request: HttpRequest,
    title: str,
    **extra: Any,
) -> dict[str, Any]:
    """Return the admin's page context: site header, app list, title, extra.

    Given a ModelAdmin, the breadcrumb links to its app (opts); given a site
    (or None: the default site), the page has no app.
    """
    if isinstance(model_admin_or_site, ModelAdmin):
        site, opts = model_admin_or_site.admin_site, model_admin_or_site.opts
    else:
        site, opts = model_admin_or_site or admin.site, None
    context: dict[str, Any] = {**site.each_context(request), "title": title}
    if opts is not None:
        context["opts"] = opts
    context.update(extra)
    return context


def render_admin_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    """Render now, not lazily, so the page's queries run inside the caller's limits.

    A TemplateResponse would render after the view returned, outside a
    reading_statistics() block and its timeouts.
    """
    return HttpResponse(render_to_string(template, context, request), status=status)


def csv_response(table: ConsoleTable, filename: str) -> HttpResponse:
    """Return every filtered row of a ConsoleTable as CSV (its export_rows)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    writer = csv.writer(response)
    for row in table.export_rows():
        writer.writerow(row)
    return response


def export_querystring(request: HttpRequest) -> str:
    """Return the current filters with _export=csv and no page."""
    query = request.GET.copy()
    query.pop("page", None)
    query["_export"] = "csv"
    return query.urlencode()
