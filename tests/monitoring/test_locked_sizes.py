"""A lock on one table leaves the index and table pages readable.

The size functions wait for an ACCESS EXCLUSIVE lock, so the views leave the
sizes of that one relation out and name the session holding the lock.
"""

import threading
import time

import pytest
from django.urls import reverse

from .conftest import flush_statistics

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_tables(scratch, second_connection):
    """Yield (schema, holder): tables free and locked, locked by holder."""
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.free (id int PRIMARY KEY)")
    conn.execute(f"CREATE TABLE {schema}.locked (id int PRIMARY KEY, v text)")
    conn.execute(f"CREATE INDEX locked_v ON {schema}.locked (v)")
    flush_statistics(conn)
    holder = second_connection(autocommit=False)
    # Released after 10 s at the latest, so a page that waits cannot hang.
    holder.execute("SET idle_in_transaction_session_timeout = '10s'")
    holder.execute(f"LOCK TABLE {schema}.locked IN ACCESS EXCLUSIVE MODE")
    yield schema, holder
    holder.rollback()


def cells(body, name):
    """Return the row of the table whose cell is >name< as text."""
    rows = [row for row in body.split("<tr") if f">{name}<" in row]
    assert len(rows) == 1, rows
    return rows[0]


def test_the_table_page_shows_every_row_and_marks_the_locked_one(
    admin_client, two_tables
):
    schema, holder = two_tables
    url = reverse("admin:monitoring_tableperformance_changelist")
    started = time.monotonic()
    response = admin_client.get(f"{url}?schema={schema}&columns=all")
    assert time.monotonic() - started < 5
    assert response.status_code == 200
    body = response.content.decode()
    locked = cells(body, "locked")
    note = f"size unavailable: locked by pid {holder.info.backend_pid}"
    assert locked.count(note) == 4  # total, table, indexes, TOAST
    assert 'class="pc-locked"' in locked
    free = cells(body, "free")
    assert "unavailable" not in free and "bytes" in free


def test_the_index_page_shows_every_row_and_marks_the_locked_ones(
    admin_client, two_tables
):
    schema, holder = two_tables
    url = reverse("admin:monitoring_indexusage_changelist")
    response = admin_client.get(f"{url}?schema={schema}&columns=all")
    assert response.status_code == 200
    body = response.content.decode()
    pid = holder.info.backend_pid
    for index in ("locked_pkey", "locked_v"):
        row = cells(body, index)
        assert f"size unavailable: locked by pid {pid}" in row
        assert f"definition unavailable: locked by pid {pid}" in row
    free = cells(body, "free_pkey")
    assert "CREATE UNIQUE INDEX free_pkey" in free and "unavailable" not in free


def test_a_session_waiting_for_the_lock_marks_the_row_too(
    admin_client, scratch, second_connection
):
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.queued (id int)")
    flush_statistics(conn)
    reader = second_connection(autocommit=False)
    reader.execute(f"SELECT * FROM {schema}.queued")
    waiter = second_connection()
    waiter.execute("SET lock_timeout = '10s'")
    # The ALTER queues behind the reader; every new reader queues behind it.
    thread = threading.Thread(
        target=lambda: waiter.execute(f"ALTER TABLE {schema}.queued ADD c int")
    )
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not conn.execute(
            "SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted",
            [waiter.info.backend_pid],
        ).fetchone():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        url = reverse("admin:monitoring_tableperformance_changelist")
        response = admin_client.get(f"{url}?schema={schema}")
    finally:
        reader.rollback()
        thread.join()
    assert response.status_code == 200
    row = cells(response.content.decode(), "queued")
    assert f"locked by pid {waiter.info.backend_pid}" in row
