"""Template tags for the console: the admin index and readable values."""

from django import template
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from perfconsole.core import formatting
from perfconsole.core.overview import scoped_open_alerts, scoped_server_overview
from perfconsole.core.tables import readable_html

register = template.Library()


@register.inclusion_tag("admin/perfconsole/overview.html", takes_context=True)
def console_overview(context):
    """Render the server summary shown above the app list."""
    return {
        "server": scoped_server_overview(context["request"]),
        "alerts": scoped_open_alerts(context["request"]),
        "links": overview_links(context["request"]),
    }


# The pages the overview links to, by model.
OVERVIEW_LINKS = [
    ("alerts", "alerts", "alert"),
    ("health checks", "health", "healthcheck"),
    ("queries", "monitoring", "querystat"),
]


def overview_links(request):
    """Return (label, url) of the overview's pages the user may open.

    The model admin decides, as it does when the page is opened, so the
    overview never links to a 403.
    """
    links = []
    for label, app_label, model_name in OVERVIEW_LINKS:
        model = apps.get_model(app_label, model_name)
        model_admin = admin.site.get_model_admin(model)
        if model_admin.has_view_permission(request):
            url = reverse(f"admin:{app_label}_{model_name}_changelist")
            links.append((label, url))
    return links


register.filter("duration", formatting.duration)
register.filter("seconds", formatting.seconds)
register.filter("bytes", formatting.size)
register.filter("pg_setting", formatting.pg_setting)
register.filter("timestamp", formatting.timestamp)
register.filter("ago", formatting.ago)
register.filter("identifier", formatting.identifier)
register.filter("number", formatting.number)


@register.simple_tag
def readable(value, kind):
    """Render a value readably with its exact form on hover.

    `{% readable row.mean_ms "duration" %}` gives
    `<span title="600096.99 ms">10 min 0 s</span>`; kinds are duration,
    seconds, size, timestamp and ago.
    """
    return readable_html(value, kind)
