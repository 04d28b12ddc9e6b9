"""Template tags for the console's admin index."""

from django import template

from perfconsole.core.overview import open_alerts, server_overview

register = template.Library()


@register.inclusion_tag("admin/perfconsole/overview.html", takes_context=True)
def console_overview(context):
    """Render the server summary shown above the app list."""
    return {"server": server_overview(), "alerts": open_alerts()}
