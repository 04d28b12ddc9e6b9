"""Lists lead with what matters: default orders, sort direction, column sets.

Real tables in a scratch schema, real statistics.
"""

import re

import pytest
from django.urls import reverse

from tests.monitoring.conftest import flush_statistics

INDEXES = "admin:monitoring_indexusage_changelist"
TABLES = "admin:monitoring_tableperformance_changelist"


def headers(body):
    """Return the header cells' text of the page's table."""
    thead = body.split("<thead>")[1].split("</thead>")[0]
    cells = [cell.split(">", 1)[1] for cell in thead.split("<th")[1:]]
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]


def first_cells(body, index):
    """Return the text of column `index` of every body row."""
    tbody = body.split("<tbody>")[1].split("</tbody>")[0]
    rows = tbody.split("<tr")[1:]
    return [
        re.sub(r"<[^>]+>", "", row.split("<td")[index + 1].split(">", 1)[1]).strip()
        for row in rows
    ]


@pytest.fixture
def indexed(scratch):
    """Yield a schema with a large unused, a small unused and a used index."""
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v text, w int)")
    conn.execute(
        f"INSERT INTO {schema}.t SELECT g, md5(g::text), g"
        " FROM generate_series(1, 5000) g"
    )
    conn.execute(f"CREATE INDEX zz_big_unused ON {schema}.t (v)")
    conn.execute(f"CREATE INDEX aa_small_unused ON {schema}.t (w) WHERE w < 10")
    conn.execute(f"ANALYZE {schema}.t")
    conn.execute("SET enable_seqscan = off")
    for _ in range(3):
        conn.execute(f"SELECT * FROM {schema}.t WHERE id = 7").fetchall()
    flush_statistics(conn)
    return schema


@pytest.mark.django_db(transaction=True)
def test_index_usage_leads_with_unused_large_indexes(admin_client, indexed):
    body = admin_client.get(f"{reverse(INDEXES)}?schema={indexed}").content.decode()
    names = first_cells(body, headers(body).index("Index"))
    assert names == ["zz_big_unused", "aa_small_unused", "t_pkey"]
    # The default order is marked on its column.
    assert "Scans ▲" in headers(body)


@pytest.mark.django_db
def test_numeric_columns_sort_largest_first_on_the_first_click(admin_client):
    body = admin_client.get(reverse(INDEXES)).content.decode()
    assert "sort=-index_size_bytes" in body
    assert "sort=-idx_tup_read" in body
    # Text still sorts A to Z first.
    assert "sort=index_name" in body and "sort=-index_name" not in body


@pytest.mark.django_db
def test_table_statistics_lead_with_the_largest_and_mark_it(admin_client):
    body = admin_client.get(f"{reverse(TABLES)}?console=on").content.decode()
    assert "Size ▼" in headers(body)


@pytest.mark.django_db
def test_the_console_own_tables_are_hidden_unless_asked_for(admin_client):
    for name in (INDEXES, TABLES):
        hidden = admin_client.get(f"{reverse(name)}?q=auth_user").content.decode()
        shown = admin_client.get(f"{reverse(name)}?q=auth_user&console=on")
        assert ">auth_user<" not in hidden
        assert "Show the console&#x27;s own tables" in hidden
        assert ">auth_user<" in shown.content.decode()


@pytest.mark.django_db
def test_the_main_columns_by_default_all_on_demand(admin_client):
    url = reverse(TABLES)
    main = headers(admin_client.get(url).content.decode())
    every = headers(admin_client.get(f"{url}?columns=all").content.decode())
    assert [h.rstrip(" ▼▲") for h in main] == [
        "Schema",
        "Table",
        "Size",
        "Seq scans",
        "Seq tuples read",
        "Index scans",
        "Seq scan (%)",
        "Live",
        "Dead",
        "Dead (%)",
        "Last (auto)vacuum",
        "Last (auto)analyze",
    ]
    assert "Heap hit (%)" in every and len(every) > len(main) + 8
    assert b"All columns (" in admin_client.get(url).content
    assert admin_client.get(f"{url}?columns=some").status_code == 400


@pytest.mark.django_db
def test_queries_lead_with_the_most_total_time_and_mark_it(admin_client):
    for name in (
        "admin:monitoring_querystat_changelist",
        "admin:monitoring_slowquery_changelist",
    ):
        body = admin_client.get(reverse(name)).content.decode()
        assert "Total ▼" in headers(body), name
