"""Real materialized views for the maintenance tests, dropped afterwards."""

import threading
import time

import pytest
from django.db import connection, connections

from perfconsole.maintenance.services import refresh_view

SLOW_VIEW = "mt_slow_view"


def execute(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def fetch_all(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@pytest.fixture
def source_table(db):
    """Create mt_source(id, v) with three rows and mt_delay(seconds)."""
    execute("CREATE TABLE mt_source (id int PRIMARY KEY, v int NOT NULL)")
    execute("INSERT INTO mt_source VALUES (1, 1), (2, 1), (3, 1)")
    execute("CREATE TABLE mt_delay (seconds float NOT NULL)")
    execute("INSERT INTO mt_delay VALUES (0)")
    yield "mt_source"
    execute("DROP TABLE mt_source, mt_delay CASCADE")


@pytest.fixture
def make_view(source_table):
    """Create a materialized view over mt_source: make_view(name, ...)."""

    def make(name, query=None, populated=True, unique_index=True):
        query = query or "SELECT id, v FROM mt_source"
        data = "WITH DATA" if populated else "WITH NO DATA"
        execute(f"CREATE MATERIALIZED VIEW {name} AS {query} {data}")
        if unique_index:
            execute(f"CREATE UNIQUE INDEX {name}_id ON {name} (id)")
        return name

    return make


@pytest.fixture
def slow_view(make_view):
    """A view whose refresh sleeps for mt_delay.seconds."""
    make_view(
        SLOW_VIEW,
        "SELECT s.id, s.v FROM mt_source s"
        " CROSS JOIN (SELECT pg_sleep(seconds) FROM mt_delay) AS d",
    )

    def set_delay(seconds):
        execute("UPDATE mt_delay SET seconds = %s", [seconds])

    set_delay.view = SLOW_VIEW
    return set_delay


class RefreshThread(threading.Thread):
    """Run refresh_view in a thread with its own Django connection."""

    def __init__(self, name, trigger="command"):
        super().__init__(daemon=True)
        self.view = name
        self.trigger = trigger
        self.result = None

    def run(self):
        try:
            self.result = refresh_view(self.view, self.trigger)
        finally:
            connections.close_all()


@pytest.fixture
def refresh_in_background():
    """Start refresh_view in a thread and wait until its REFRESH is running."""
    threads = []

    def start(name):
        thread = RefreshThread(name)
        thread.start()
        threads.append(thread)
        wait_for_refresh_statement()
        return thread

    yield start
    for thread in threads:
        thread.join(timeout=30)


def wait_for_refresh_statement(timeout=10):
    """Wait, bounded, until a session runs REFRESH MATERIALIZED VIEW."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = fetch_all(
            "SELECT 1 FROM pg_stat_activity WHERE state = 'active'"
            " AND application_name = 'perfconsole-refresh'"
            " AND query LIKE %s",
            ["%REFRESH%MATERIALIZED VIEW%"],
        )
        if rows:
            return
        time.sleep(0.05)
    raise AssertionError("the refresh did not start within the time allowed")
