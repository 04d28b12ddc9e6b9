"""An alert as a DBA reads it: the value with its unit, the threshold, the subject.

Each metric's subject is a table ("schema.table"), an index ("schema.index"),
a statement (its query id), a materialized view (its name) or the database;
the subject links to the console page that shows it.
"""

from urllib.parse import urlencode

from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils.html import format_html

from perfconsole.core import formatting

from .models import FLAG_METRICS, PERCENT_METRICS, Metric

TABLE_METRICS = {Metric.SEQ_SCAN_PCT, Metric.DEAD_TUPLES}
VIEW_METRICS = {Metric.MATVIEW_STALE_HOURS, Metric.REFRESH_FAILED}


def reading(metric, value):
    """Return a metric's value with its unit: "600 ms", "97.5 %", "8,653".

    The rule's name says what is counted (dead tuples, business hours).
    """
    if value is None:
        return ""
    if metric == Metric.QUERY_MEAN_TIME_MS:
        return formatting.duration(value)
    if metric in PERCENT_METRICS:
        return f"{value:g} %"
    if metric in FLAG_METRICS:
        return "yes" if value >= 1 else "no"
    if metric == Metric.MATVIEW_STALE_HOURS:
        return f"{value:g} h"
    return f"{value:,.0f}" if value == int(value) else f"{value:,g}"


def threshold(rule):
    """Return the rule's condition on the value: "> 500 ms", "< 95 %".

    Flags (1 = yes) have no threshold worth reading: their value says it.
    """
    if rule.metric in FLAG_METRICS:
        return ""
    return f"{rule.get_comparison_display()} {reading(rule.metric, rule.threshold)}"


def value_with_threshold(alert):
    """Return the value and, beside it, the rule's threshold: "612 ms (> 100 ms)"."""
    limit = threshold(alert.rule)
    shown = reading(alert.rule.metric, alert.value)
    return f"{shown} ({limit})" if limit else shown


def subject_url(alert):
    """Return the URL of the console page about the alert's subject, or None."""
    metric, subject = alert.rule.metric, alert.subject
    schema, _, name = subject.rpartition(".")
    relation_filter = {"schema": schema, "table": name, "console": "on"}
    # Another target's table or index: its page opens on that target (the
    # switcher's parameter).
    on_target = (
        {} if alert.database.is_console_database else {"target": alert.database_id}
    )
    relation_filter.update(on_target)
    if metric in TABLE_METRICS:
        page = "admin:monitoring_tableperformance_changelist"
        return f"{reverse(page)}?{urlencode(relation_filter)}"
    if metric == Metric.INDEX_USAGE_PCT:
        # The table's indexes: which ones its scans use, which none do.
        page = "admin:monitoring_indexusage_changelist"
        return f"{reverse(page)}?{urlencode(relation_filter)}"
    if metric == Metric.INVALID_INDEX:
        page = "admin:monitoring_indexusage_changelist"
        query = {"schema": schema, "q": name, "console": "on", **on_target}
        return f"{reverse(page)}?{urlencode(query)}"
    if metric == Metric.QUERY_MEAN_TIME_MS:
        return reverse("admin:alerts_alert_query", args=[alert.pk])
    if metric in VIEW_METRICS:
        return reverse(
            "admin:maintenance_materializedview_change", args=[quote(subject)]
        )
    return None


def subject_link(alert):
    """Return the subject as a link to its page (plain text when it has none)."""
    url = subject_url(alert)
    if url is None:
        return alert.subject
    return format_html('<a href="{}">{}</a>', url, alert.subject)
