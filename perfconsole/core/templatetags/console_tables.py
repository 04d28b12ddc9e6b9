"""Template helpers of django_tables2/admin_table.html."""

from typing import Any

from django import template

register = template.Library()


@register.filter
def row_class(row: Any) -> str:
    """Return the CSS class its table gives a row ("" for none)."""
    return row.table.row_class(row.record)
