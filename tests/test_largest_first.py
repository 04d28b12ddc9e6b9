"""The console's own changelists sort numbers and dates largest first."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def header_link(page, column_class):
    """Return the sort link of one column's header."""
    header = re.search(
        rf'<th scope="col" class="[^"]*column-{column_class}[^"]*">(.*?)</th>',
        page,
        re.S,
    )
    assert header, f"no header for {column_class}"
    return re.search(r'href="(\?[^"]*)"', header.group(1)).group(1)


@pytest.mark.parametrize(
    "url_name, number_column, text_column",
    [
        ("admin:alerts_alertrule_changelist", "cooldown_minutes", "name"),
    ],
)
def test_first_click_on_a_number_or_date_sorts_descending(
    admin_client, url_name, number_column, text_column
):
    page = admin_client.get(reverse(url_name)).content.decode()

    assert re.search(r"o=-\d", header_link(page, number_column))
    assert not re.search(r"o=-\d", header_link(page, text_column))
