"""Fixtures for the analyzer: real tables with real problems, or none."""

import pytest
from django.db import connection

from perfconsole.monitoring.explain import EXPLAIN_ROLE
from perfconsole.monitoring.statviews import sync_views
from tests.conftest import forget_statements_of_this_database

SCHEMA = "analyzer_fixture"
ROWS = 30000
CUSTOMERS = 3000
LOOKUP = f"SELECT id, note FROM {SCHEMA}.orders WHERE customer_id = %s"
JOIN_LOOKUP = (
    f"SELECT c.name, o.note FROM {SCHEMA}.customers AS c"
    f" JOIN {SCHEMA}.orders AS o ON o.customer_id = c.id WHERE c.email = %s"
)


def _execute(sql, params=None):
    # On the driver's cursor: the fixture stands for the monitored product,
    # whose statements carry no console tag (Django's connections tag all).
    with connection.cursor() as cursor:
        cursor.cursor.execute(sql, params)


def flush_statistics():
    """Make this backend's table and index counters visible to readers now."""
    if connection.pg_version >= 150000:
        _execute("SELECT pg_stat_force_next_flush()")
    else:
        # Before 15 the statistics collector receives counters with a delay.
        _execute("SELECT pg_sleep(0.6)")


# What a 30 000-row fixture can reach.
LOW_THRESHOLDS = {"unused_index_min_bytes": 0, "missing_index_min_rows": 1000}


@pytest.fixture(autouse=True)
def low_thresholds(settings):
    """Lower the health thresholds to what the fixtures can reach."""
    settings.HEALTH_THRESHOLDS = LOW_THRESHOLDS


def install_statements():
    """Install pg_stat_statements in the test database and start it empty."""
    _execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    sync_views()
    with connection.cursor() as cursor:
        forget_statements_of_this_database(cursor)


@pytest.fixture
def statements(transactional_db):
    install_statements()


@pytest.fixture(scope="session", autouse=True)
def _explain_role(explain_role):
    """Have the role that plans monitored statements in the test database."""


def _create_orders():
    _execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    _execute(f"CREATE SCHEMA {SCHEMA}")
    # The fixture stands for the monitored application: its planner reads it.
    _execute(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {EXPLAIN_ROLE}")
    _execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {SCHEMA}"
        f" GRANT SELECT ON TABLES TO {EXPLAIN_ROLE}"
    )
    _execute(
        f"CREATE TABLE {SCHEMA}.orders ("
        " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " customer_id integer NOT NULL,"
        " status text NOT NULL,"
        " created_at timestamptz NOT NULL,"
        " note text)"
    )
    _execute(
        f"INSERT INTO {SCHEMA}.orders (customer_id, status, created_at, note)"
        f" SELECT g % {CUSTOMERS},"
        " (ARRAY['new', 'paid', 'sent', 'done', 'void'])[g % 5 + 1],"
        " now() - g * interval '1 minute', 'order ' || g"
        f" FROM generate_series(1, {ROWS}) AS g"
    )


def run_lookups(times):
    for customer in range(times):
        _execute(LOOKUP, [customer * 7])


def _plan(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def create_problems():
    """Create orders with a seq-scanning lookup, an unused index and a duplicate.

    - customer_id has no index, and the lookup by customer runs 30 times;
    - orders_note_idx is never scanned;
    - orders_status_idx is the leading part of orders_status_created_idx;
    - customers are looked up by e-mail (unindexed) joined to their orders.
    """
    _create_orders()
    _execute(f"CREATE INDEX orders_note_idx ON {SCHEMA}.orders (note)")
    _execute(f"CREATE INDEX orders_status_idx ON {SCHEMA}.orders (status)")
    _execute(
        f"CREATE INDEX orders_status_created_idx ON {SCHEMA}.orders"
        " (status, created_at)"
    )
    _execute(
        f"CREATE TABLE {SCHEMA}.customers AS SELECT g AS id, 'customer ' || g AS name,"
        f" 'c' || g || '@example.com' AS email FROM generate_series(0, {CUSTOMERS}) g"
    )
    _execute(f"ALTER TABLE {SCHEMA}.customers ADD PRIMARY KEY (id)")
    _execute(f"ANALYZE {SCHEMA}.orders, {SCHEMA}.customers")
    assert "Seq Scan on orders" in _plan(LOOKUP, [7])
    run_lookups(30)
    for customer in range(10):
        _execute(JOIN_LOOKUP, [f"c{customer}@example.com"])
    flush_statistics()


def drop_fixture():
    _execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


@pytest.fixture
def problem_fixture(statements):
    create_problems()
    yield
    drop_fixture()


@pytest.fixture
def healthy_fixture(statements):
    """The same orders and lookups, with the right index and nothing extra."""
    # The cache hit rate is the database's: earlier tests' cold reads would
    # count against a healthy schema.
    _execute("SELECT pg_stat_reset()")
    _create_orders()
    _execute(f"CREATE INDEX orders_customer_id_idx ON {SCHEMA}.orders (customer_id)")
    # A healthy table has been vacuumed and analyzed.
    _execute(f"VACUUM (ANALYZE) {SCHEMA}.orders")
    assert "orders_customer_id_idx" in _plan(LOOKUP, [7])
    run_lookups(60)
    flush_statistics()
    yield
    drop_fixture()
