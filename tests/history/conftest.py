"""Fixtures for the statistics history tests: a probe table, real statements."""

import uuid

import pytest
from django.db import connection

from perfconsole.history.collector import collect, console_database


def flush_statistics(cursor):
    """Make this backend's pending table counters visible now (PG15+)."""
    cursor.execute("SELECT pg_stat_force_next_flush()")


def analyze(cursor, table):
    """Flush this session's pending counters, then ANALYZE the table.

    ANALYZE sets n_live_tup outright. A backend flushes its counters at most
    once a second, so inserts still pending would land on top of ANALYZE's
    figure and count the rows twice.
    """
    flush_statistics(cursor)
    cursor.execute(f"ANALYZE {table}")


@pytest.fixture
def history_db(transactional_db, settings):
    """Return the console's monitored database, with the history emptied.

    Collections commit (they are transactions of their own), so the tests
    are transactional; the baseline starts empty.
    """
    settings.MONITORING_LOCK_TIMEOUT_MS = 200
    return console_database()


@pytest.fixture
def probe(history_db):
    """Create a probe table; return (its qualified name, a marker function).

    The marker runs a statement shape only this test runs, n times, and
    returns its queryid.
    """
    name = f"history_probe_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, note text)")
        cursor.execute(
            f"INSERT INTO {name} SELECT g, 'n' || g FROM generate_series(1, 200) g"
        )
        analyze(cursor, name)

    def marker(times):
        with connection.cursor() as cursor:
            for value in range(times):
                cursor.execute(
                    f"SELECT count(*) AS {name}_marker FROM {name} WHERE id > %s",
                    [value],
                )
            flush_statistics(cursor)
        return statement_row(f"{name}_marker")["queryid"]

    yield f"public.{name}", marker
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")


def statement_row(marker):
    """Read the marker statement's counters from pg_stat_statements."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT queryid, calls, rows, shared_blks_hit, shared_blks_read,"
            " total_exec_time, total_plan_time FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database"
            "               WHERE datname = current_database())"
            " AND query LIKE %s AND query NOT LIKE %s",
            [f"%{marker}%", "%pg_stat_statements%"],
        )
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    assert len(rows) == 1, rows
    return rows[0]


def table_row(table):
    """Read a table's counters from pg_stat_user_tables."""
    schema, name = table.split(".")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq_scan, seq_tup_read, coalesce(idx_scan, 0) AS idx_scan,"
            " n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables"
            " WHERE schemaname = %s AND relname = %s",
            [schema, name],
        )
        names = [column.name for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


@pytest.fixture
def collected():
    """Return a function that collects and asserts the snapshot is stored."""

    def run():
        outcome = collect()
        assert outcome.snapshot is not None, outcome.describe()
        return outcome

    return run
