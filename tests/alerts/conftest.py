"""Fixtures for the alert tests: real tables in a probe schema, seeded rules."""

import importlib
import time

import pytest
from django.apps import apps
from django.db import connection

from perfconsole.alerts.models import AlertRule

PROBE_SCHEMA = "alerts_probe"
seed_migration = importlib.import_module(
    "perfconsole.alerts.migrations.0002_seed_rules"
)


@pytest.fixture
def rules(transactional_db):
    """Return the seeded rules by metric (a transactional test flushes them)."""
    seed_migration.seed_rules(apps, None)
    return {rule.metric: rule for rule in AlertRule.objects.all()}


@pytest.fixture
def seeded(db):
    """Make sure the seeded rules exist (an earlier transactional test may
    have flushed them) in a test without a transactional database."""
    seed_migration.seed_rules(apps, None)


@pytest.fixture
def probe(transactional_db):
    """Give the test a schema of its own, dropped afterwards.

    Tables in it carry the collaboration tables' names (e.g. `studies`) so the
    seeded rules' scopes match without touching the product's own tables.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {PROBE_SCHEMA} CASCADE")
        cursor.execute(f"CREATE SCHEMA {PROBE_SCHEMA}")
    yield PROBE_SCHEMA
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {PROBE_SCHEMA} CASCADE")


def run(sql, params=None):
    """Run SQL on the test's connection and return its rows, if any.

    On the driver's cursor: the statements stand for the product's, which
    carry no console tag (Django's connections tag every statement).
    """
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def flush_stats():
    """Ask this backend to publish its pending statistics now (PostgreSQL 15+).

    Before 15 the statistics collector receives them within half a second.
    """
    if connection.pg_version >= 150000:
        run("SELECT pg_stat_force_next_flush()")


def wait_for(read, check, timeout=15.0):
    """Poll read() until check(value) holds; return the last value.

    Statistics reach the shared views asynchronously (at most a second or so
    later), so the test waits for them instead of sleeping a fixed time.
    """
    deadline = time.monotonic() + timeout
    while True:
        flush_stats()
        value = read()
        if check(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def table_stat(table, column):
    """Return one column of pg_stat_user_tables for a probe table."""
    rows = run(
        f"SELECT {column} FROM pg_stat_user_tables"
        " WHERE schemaname = %s AND relname = %s",
        [PROBE_SCHEMA, table],
    )
    return rows[0][0] if rows else None


def create_large_table(name="studies", rows=12000):
    """Create a probe table with a primary key, autovacuum off, analyzed."""
    table = f"{PROBE_SCHEMA}.{name}"
    run(
        f"CREATE TABLE {table} (id int PRIMARY KEY, title text)"
        " WITH (autovacuum_enabled = false)"
    )
    run(
        f"INSERT INTO {table} SELECT g, 'study ' || g FROM generate_series(1, %s) g",
        [rows],
    )
    # Wait for the insert to be counted before ANALYZE, or ANALYZE's count
    # and the insert's pending one add up.
    wait_for(lambda: table_stat(name, "n_live_tup"), lambda n: n == rows)
    run(f"ANALYZE {table}")
    return table
