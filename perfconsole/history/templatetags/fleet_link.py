"""The admin index's link to the fleet overview, for users who may open it."""

from django import template

register = template.Library()


@register.inclusion_tag("history/_fleet_link.html", takes_context=True)
def fleet_link(context):
    """Render the link when the user may view monitored databases."""
    from django.contrib import admin
    from django.urls import reverse

    from perfconsole.history.models import MonitoredDatabase

    model_admin = admin.site.get_model_admin(MonitoredDatabase)
    if not model_admin.has_view_permission(context["request"]):
        return {"url": ""}
    return {"url": reverse("admin:history_monitoreddatabase_fleet")}
