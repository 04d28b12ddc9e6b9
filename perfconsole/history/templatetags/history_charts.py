"""The query page's charts over a window, from the statistics history."""

from django import template

from perfconsole.history.dashboard import statement_chart_data
from perfconsole.history.models import StatementText
from perfconsole.history.scoping import request_scope
from perfconsole.history.window_form import WindowForm

register = template.Library()


@register.inclusion_tag("history/_query_charts_body.html", takes_context=True)
def query_charts(context):
    """Render calls/s, mean and total time, rows and blocks read of the page's stat.

    The window comes from the page's query string (window, start, end); a
    bad one is shown as the form's error, the charts left out.
    """
    request, stat = context["request"], context.get("stat")
    form = WindowForm(request.GET)
    result = {"form": form}
    if stat is None or not form.is_valid():
        return result
    database = request_scope(request).database
    statement = (
        StatementText.objects.filter(
            database=database,
            queryid=stat.queryid,
            userid=stat.userid,
            toplevel=stat.toplevel,
        )
        .order_by("-first_seen")
        .first()
    )
    result["window_label"] = form.label()
    if statement is None:
        result["message"] = (
            "No history of this statement yet: the collection every minute"
            " records it from its next run."
        )
        return result
    start, end = form.bounds()
    charts = statement_chart_data(database, statement.id, start, end)
    result["charts"] = charts
    return result


@register.inclusion_tag("history/_dashboard_link.html", takes_context=True)
def dashboard_link(context):
    """Render the index's link to the dashboard, for users who may open it."""
    from django.contrib import admin
    from django.urls import reverse

    from perfconsole.history.models import Snapshot

    request = context["request"]
    model_admin = admin.site.get_model_admin(Snapshot)
    if not model_admin.has_view_permission(request):
        return {"url": ""}
    return {"url": reverse("admin:history_dashboard")}
