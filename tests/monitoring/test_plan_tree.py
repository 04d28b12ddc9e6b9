"""A query's plan drawn as a tree: nodes, estimates, sequential scans, costliest."""

import re

import pytest
from django.urls import reverse

from perfconsole.monitoring.models import QueryStat
from perfconsole.monitoring.plantree import plan_tree

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def orders(scratch):
    """Two real tables: customers indexed by id, orders without an index."""
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.customers (id int PRIMARY KEY, name text)")
    conn.execute(f"CREATE TABLE {schema}.orders (id int, customer_id int, total int)")
    conn.execute(
        f"INSERT INTO {schema}.customers SELECT g, 'c' || g"
        " FROM generate_series(1, 2000) g"
    )
    conn.execute(
        f"INSERT INTO {schema}.orders SELECT g, g % 2000 + 1, g % 97"
        " FROM generate_series(1, 20000) g"
    )
    conn.execute(f"ANALYZE {schema}.customers, {schema}.orders")
    return conn, schema


def test_a_real_plan_becomes_a_tree_with_the_costliest_node_marked(orders):
    conn, schema = orders
    (explained,) = conn.execute(
        "EXPLAIN (FORMAT JSON) SELECT c.name, o.total"
        f" FROM {schema}.orders o JOIN {schema}.customers c ON c.id = o.customer_id"
        " WHERE o.total = 5"
    ).fetchone()

    root = plan_tree(explained)
    nodes = list(root.walk())

    seq = [node for node in nodes if node.seq_scan]
    assert "on orders o" in [node.target for node in seq]
    assert [node for node in nodes if node.costliest] == [
        max(nodes, key=lambda node: node.self_cost)
    ]
    assert root.total_cost >= max(node.total_cost for node in nodes[1:])
    assert all(node.rows >= 0 for node in nodes)
    assert any("Filter: (total = 5)" == node.detail for node in nodes)


def test_the_query_page_draws_the_plan_tree(admin_client, orders):
    conn, schema = orders
    conn.execute(
        "SELECT c.name, o.total"
        f" FROM {schema}.orders o JOIN {schema}.customers c ON c.id = o.customer_id"
        " WHERE o.total = 5"
    )
    stat = QueryStat.objects.get(query__contains=f"{schema}.orders o JOIN")
    url = reverse("admin:monitoring_querystat_change", args=[stat.pk])

    body = admin_client.post(url).content.decode()

    tree = body[body.index('id="plan-tree"') : body.index('id="plan-text"')]
    seq_scans = re.findall(r'<li class="pc-plan-item pc-plan-seqscan[^"]*">', tree)
    assert seq_scans, tree
    assert "<strong>Seq Scan</strong> on orders o" in tree
    assert tree.count("pc-plan-costliest") == 1
    assert " rows · cost " in tree
    # The text plan stays one click away.
    assert "<summary>Plan as text</summary>" in body
    assert "Seq Scan on orders o" in body


def test_no_plan_no_tree():
    assert plan_tree("[]") is None
