"""The statistics tables render through django-tables2's template tag."""

import html
import re

import pytest
from django.urls import reverse

from .conftest import flush_statistics


def links(body, text):
    """Return the unescaped href of each link whose text is given."""
    return [
        html.unescape(href)
        for href in re.findall(rf'<a href="([^"]*)">{re.escape(text)}</a>', body)
    ]


@pytest.mark.django_db(transaction=True)
def test_it_sorts_and_pages_with_links_that_keep_the_filters(admin_client, scratch):
    conn, schema = scratch
    for name in ("t_a", "t_b", "t_c"):
        conn.execute(f"CREATE TABLE {schema}.{name} (id int)")
    flush_statistics(conn)
    url = reverse("admin:monitoring_tableperformance_changelist")

    page = admin_client.get(f"{url}?schema={schema}&sort=-table_name&per_page=1")
    body = page.content.decode()

    assert page.status_code == 200
    assert ">t_c<" in body and ">t_b<" not in body  # descending, one per page
    # The sorted column's link flips the order; its header shows the arrow.
    table_link = links(body, "Table")[0]  # the name; the second is the size
    assert "sort=table_name" in table_link and f"schema={schema}" in table_link
    assert re.search(r'<a href="[^"]*">Table</a> ▼</th>', body)
    # The pager keeps the filters and the order, without a COUNT's page total.
    (next_link,) = links(body, "next ›")
    assert "page=2" in next_link and "sort=-table_name" in next_link
    assert not links(body, "‹ previous")

    second = admin_client.get(url + next_link).content.decode()
    assert ">t_b<" in second and ">t_c<" not in second
    assert links(second, "‹ previous")


@pytest.mark.django_db(transaction=True)
def test_a_sort_link_never_carries_the_export_or_the_page(admin_client, scratch):
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.t_a (id int)")
    flush_statistics(conn)
    url = reverse("admin:monitoring_tableperformance_changelist")

    body = admin_client.get(f"{url}?schema={schema}&page=1").content.decode()

    sort_links = links(body, "Live")
    # An empty list would let the loop below pass without looking.
    assert sort_links
    for link in sort_links:
        assert not re.search(r"[?&]page=", link) and "_export" not in link
