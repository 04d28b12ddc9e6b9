"""The header's target switcher: which monitored database the pages show."""

from django import template

from perfconsole.history.scoping import switcher_context

register = template.Library()


@register.inclusion_tag("history/_target_switcher.html", takes_context=True)
def target_switcher(context):
    """Render the target shown and a form choosing another (staff only)."""
    return switcher_context(context.get("request"))
