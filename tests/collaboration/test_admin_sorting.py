"""The collaboration lists sort numbers and dates largest first on a click."""

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import result_headers
from django.test import RequestFactory

from perfconsole.collaboration.models import ProductUser, TeamProductivityAnalytics

pytestmark = pytest.mark.django_db


def first_click(model, superuser, query=""):
    """Return, by column name, the order a click on each sortable header asks.

    The admin's link lists the clicked column first, then the order kept
    from before; only the clicked column's part matters here.
    """
    request = RequestFactory().get("/" + query)
    request.user = superuser
    changelist = admin.site._registry[model].get_changelist_instance(request)
    names = changelist.list_display
    return {
        names[position]: header["url_primary"].removeprefix("?o=").split(".")[0]
        for position, header in enumerate(result_headers(changelist))
        if header["sortable"]
    }


def position(model, name):
    return list(admin.site._registry[model].list_display).index(name)


def test_a_number_column_sorts_largest_first_then_toggles(superuser):
    model = TeamProductivityAnalytics
    column = position(model, "member_count")
    # Not sorted yet: the first click asks for the largest first.
    assert first_click(model, superuser)["member_count"] == f"-{column}"
    # Sorted largest first: the next click sorts smallest first.
    clicks = first_click(model, superuser, f"?o=-{column}")
    assert clicks["member_count"] == f"{column}"


def test_the_default_order_toggles_as_usual(superuser):
    model = TeamProductivityAnalytics
    # The list opens most active first: the click sorts least active first.
    column = position(model, "activity_last_30_days")
    assert first_click(model, superuser)["activity_last_30_days"] == f"{column}"


def test_only_number_and_date_columns_sort_largest_first(superuser):
    request = RequestFactory().get("/")
    request.user = superuser
    model_admin = admin.site._registry[ProductUser]
    changelist = model_admin.get_changelist_instance(request)
    names = list(changelist.list_display)
    assert not changelist.sorts_largest_first(names.index("full_name"))
    assert changelist.sorts_largest_first(names.index("created_at"))
