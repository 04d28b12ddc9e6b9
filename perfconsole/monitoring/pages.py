"""Page bodies of the monitoring admin: statistics tables, query detail, settings.

Pages are rendered inside reading_statistics(), so the ORM's queries carry
the tag and the timeouts; a timeout or a lock gives a message, not a 500.
Each page shows the monitored database the request chose (history.scoping):
on a target the statistics views are read inline (targetviews).
"""

from django.contrib.admin.utils import unquote
from django.http import Http404
from django_tables2 import RequestConfig

from perfconsole.core import formatting
from perfconsole.core.db import StatisticsUnavailable, reading_statistics
from perfconsole.core.pages import (
    admin_page_context,
    csv_response,
    export_querystring,
    render_admin_page,
)
from perfconsole.core.tables import readable_html, timestamp_html
from perfconsole.history.scoping import request_scope
from perfconsole.history.window_pages import window_switch
from perfconsole.monitoring.explain import (
    ExplainUnavailable,
    connection_parameters,
    explain_role,
    explain_statement,
)
from perfconsole.monitoring.extension import statements_status
from perfconsole.monitoring.models import QueryStat
from perfconsole.monitoring.settings_review import review_settings, server_machine
from perfconsole.monitoring.statviews import query_stats_is_placeholder
from perfconsole.monitoring.tables import SettingsTable
from perfconsole.monitoring.targetviews import reading_views

TABLE_TEMPLATE = "admin/monitoring/stats_table.html"
DETAIL_TEMPLATE = "admin/monitoring/query_detail.html"
SETTINGS_TEMPLATE = "admin/monitoring/settings_review.html"
PER_PAGE = 50
EXPLAIN_PERMISSION = "monitoring.explain_querystat"


def statements_notice(using="default"):
    """Return what to do when pg_stat_statements is not usable, else None.

    Call it inside reading_statistics(): the catalog reads get its limits.
    On a target the views are read inline, never a stale placeholder.
    """
    status = statements_status(using)
    placeholder = using == "default" and query_stats_is_placeholder()
    if status.usable and not placeholder:
        if not status.steps:
            return None
        # Readable, but outdated or not computing query IDs.
        return {
            "reason": f"pg_stat_statements {status.version} works but is not "
            "set up completely.",
            "steps": status.steps,
        }
    if status.usable:
        reason = "pg_stat_statements is enabled, but the views were created without it."
        steps = ["python manage.py syncstatviews"]
    else:
        reason = "pg_stat_statements is not usable in this database"
        if status.error:
            reason += f" ({status.error})"
        reason += "; query statistics stay empty until it is."
        steps = status.steps
    return {"reason": reason, "steps": steps}


def stats_table_page(model_admin, request, *, queryset, notice=None, windows=False):
    """Render a filtered, sortable, lazily paginated statistics table.

    notice, if given, is a function of the connection alias returning a note
    to show above the table; windows adds the switch to the page over a time
    window (window_pages). The rows are the chosen target's.
    """
    context = admin_page_context(model_admin, request, model_admin.title)
    if windows:
        context["window_switch"] = window_switch(request)
    form = model_admin.filter_form_class(request.GET)
    context.update(
        form=form,
        description=model_admin.description,
        export_query=export_querystring(request),
        reset_url=model_admin.reset_url(request),
    )
    if not form.is_valid():
        return render_admin_page(request, TABLE_TEMPLATE, context, status=400)
    scope = request_scope(request)
    try:
        with reading_views(scope.alias):
            queryset = queryset.using(scope.alias)
            context["notice"] = notice(scope.alias) if notice else None
            export = form.cleaned_data.get("_export") == "csv"
            all_columns = export or form.cleaned_data.get("columns") == "all"
            table_class = model_admin.table_class
            hidden = () if all_columns else table_class.hidden_columns()
            table = table_class(form.filter(queryset), exclude=hidden)
            context.update(
                hidden_columns=len(hidden),
                all_columns=all_columns,
                has_main_columns=bool(table_class.main_columns),
            )
            RequestConfig(request, paginate=False).configure(table)
            if export:
                return csv_response(table, model_admin.model._meta.db_table)
            table.paginate_lazily(
                per_page=form.cleaned_data.get("per_page") or PER_PAGE,
                page=form.cleaned_data.get("page") or 1,
            )
            context["table"] = table
            return render_admin_page(request, TABLE_TEMPLATE, context)
    except StatisticsUnavailable as error:
        context["error"] = scope.unavailable(error)
        return render_admin_page(request, TABLE_TEMPLATE, context, status=503)


def counter_html(name, value):
    """Return a query's counter as a person reads it, exact value on hover.

    Times are milliseconds in pg_stat_statements; ids are no quantities.
    """
    if name in ("queryid", "userid"):
        return formatting.identifier(value)
    if name == "stats_since":
        return timestamp_html(value) if value is not None else None
    for suffix, kind in (("_ms", "duration"), ("_bytes", "size")):
        if name.endswith(suffix):
            # None (no value) lets the template show its dash.
            return readable_html(value, kind) or None
    return formatting.number(value)


def query_detail_page(model_admin, request, object_id, *, explain=False):
    """Render one statement: full text, every counter, share; a plan on request.

    The plan is made only when explain is True (a POST by a user with the
    explain permission), by the explain role, never as the console, on the
    chosen target.
    """
    scope = request_scope(request)
    context = admin_page_context(model_admin, request, "Query")
    try:
        with reading_views(scope.alias):
            # The switch on the list shows the console's own statements too.
            stat = (
                model_admin.model.objects.with_console()
                .using(scope.alias)
                .filter(pk=unquote(object_id))
                .first()
            )
    except StatisticsUnavailable as error:
        context["error"] = scope.unavailable(error)
        return render_admin_page(request, DETAIL_TEMPLATE, context, status=503)
    if stat is None:
        raise Http404("This statement is no longer in pg_stat_statements.")
    # Times read in their own unit now: the labels' "(ms)" would mislead.
    counters = [
        (
            field.verbose_name.removesuffix(" (ms)"),
            counter_html(field.name, getattr(stat, field.attname)),
        )
        for field in QueryStat._meta.fields
        if field.name not in ("query", "id")
    ]
    context.update(
        title=f"Query {stat.queryid}",
        stat=stat,
        counters=counters,
        can_explain=request.user.has_perm(EXPLAIN_PERMISSION),
        explain_hint=explain_hint(),
        target=scope.other_target,
    )
    if explain:
        context["plan"] = explain_statement(stat.query, scope.other_target)
        model_admin.log_change(
            request, stat, explain_log_message(stat, scope.other_target)
        )
    return render_admin_page(request, DETAIL_TEMPLATE, context)


def explain_hint():
    """Return how to turn plans on when they are off, else None."""
    try:
        connection_parameters()
    except ExplainUnavailable as error:
        return str(error)
    return None


def explain_log_message(stat, target=None):
    """Return the admin log's line for one explain; it names a target."""
    text = " ".join(stat.query.split())
    if len(text) > 200:
        text = text[:199] + "…"
    where = f" on {target.name}" if target else ""
    return f"Explained{where} (plan only, as {explain_role()}): {text}"


def settings_review_page(model_admin, request):
    """Render the settings beside the seed's and PGTune's values."""
    scope = request_scope(request)
    context = admin_page_context(model_admin, request, "Settings review")
    try:
        with reading_statistics(scope.alias):
            machine = server_machine(scope.alias)
        table = SettingsTable(review_settings(scope.alias, machine=machine))
        context.update(machine=machine, table=table)
    except StatisticsUnavailable as error:
        context["error"] = scope.unavailable(error)
        return render_admin_page(request, SETTINGS_TEMPLATE, context, status=503)
    return render_admin_page(request, SETTINGS_TEMPLATE, context)
