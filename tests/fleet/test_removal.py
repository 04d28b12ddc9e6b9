"""Removing a target: a confirmation with counts per table, then bulk deletes."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from perfconsole.history.models import (
    Baseline,
    CounterDelta,
    Level,
    MonitoredDatabase,
    Snapshot,
    StatementBaseline,
    StatementDelta,
    StatementText,
)

pytestmark = pytest.mark.django_db

COUNTERS = dict(
    calls=1,
    rows=1,
    total_exec_time=1.0,
    total_plan_time=0.0,
    shared_blks_hit=1,
    shared_blks_read=0,
    shared_blks_dirtied=0,
    shared_blks_written=0,
    temp_blks_read=0,
    temp_blks_written=0,
    blk_read_time=0.0,
    blk_write_time=0.0,
    wal_bytes=0,
)


def store_history(database, collections, statements=3):
    """Store a history for the database: rows in every history table."""
    now = timezone.now()
    moments = [now - timedelta(minutes=minute) for minute in range(collections)]
    Snapshot.objects.bulk_create(
        Snapshot(database=database, taken_at=moment, status="ok") for moment in moments
    )
    texts = StatementText.objects.bulk_create(
        StatementText(
            database=database,
            dbid=1,
            userid=10,
            queryid=number,
            query=f"SELECT {number}",
            first_seen=now,
        )
        for number in range(statements)
    )
    StatementDelta.objects.bulk_create(
        StatementDelta(
            database=database,
            level=Level.RAW,
            period_start=moment,
            statement=text,
            **COUNTERS,
        )
        for moment in moments
        for text in texts
    )
    StatementBaseline.objects.bulk_create(
        StatementBaseline(
            database=database,
            dbid=1,
            userid=10,
            queryid=text.queryid,
            toplevel=True,
            statement=text,
            **COUNTERS,
        )
        for text in texts
    )
    CounterDelta.objects.bulk_create(
        CounterDelta(
            database=database,
            level=Level.RAW,
            period_start=moment,
            source="database",
            key="",
            counters={"xact_commit": 5},
        )
        for moment in moments
    )
    Baseline.objects.create(database=database, source="database", key="")


def delete_url(database):
    return reverse("admin:history_monitoreddatabase_delete", args=[database.pk])


def test_the_confirmation_counts_rows_without_listing_them(admin_client):
    target = MonitoredDatabase.objects.create(name="old staging", dbname="app")
    store_history(target, collections=40)
    with CaptureQueriesContext(connection) as small:
        page = admin_client.get(delete_url(target)).content.decode()
    assert "snapshots: 40 rows" in page
    assert "statement deltas: 120 rows" in page
    assert "counter deltas: 40 rows" in page
    assert "statement texts: 3 rows" in page
    assert "SELECT 1" not in page

    bigger = MonitoredDatabase.objects.create(name="big", dbname="app")
    store_history(bigger, collections=400)
    with CaptureQueriesContext(connection) as large:
        page = admin_client.get(delete_url(bigger)).content.decode()
    assert "statement deltas: 1,200 rows" in page
    # Ten times the rows, the same queries: counted, never collected.
    assert len(large) == len(small)


def test_removing_deletes_its_history_and_nothing_else(admin_client):
    target = MonitoredDatabase.objects.create(name="old staging", dbname="app")
    kept = MonitoredDatabase.objects.create(name="prod", dbname="app")
    standby = MonitoredDatabase.objects.create(
        name="old staging replica", dbname="app", role="standby", primary=target
    )
    store_history(target, collections=50)
    store_history(kept, collections=5)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.post(delete_url(target), {"post": "yes"})
    assert response.status_code == 302
    assert not MonitoredDatabase.objects.filter(pk=target.pk).exists()
    for model in (Snapshot, StatementText, StatementDelta, StatementBaseline):
        assert not model.objects.filter(database_id=target.pk).exists(), model
        assert model.objects.filter(database=kept).exists(), model
    assert not CounterDelta.objects.filter(database_id=target.pk).exists()
    assert not Baseline.objects.filter(database_id=target.pk).exists()
    assert CounterDelta.objects.filter(database=kept).count() == 5
    standby.refresh_from_db()
    assert standby.primary is None
    # No DELETE per row: one per table, whatever the history's length.
    deletes = [q["sql"] for q in queries if q["sql"].lstrip().startswith("DELETE")]
    assert len(deletes) < 15, deletes
    entry = LogEntry.objects.get(object_id=str(target.pk))
    assert entry.action_flag == DELETION and entry.object_repr == "old staging"


def test_removing_needs_the_confirmation(admin_client):
    target = MonitoredDatabase.objects.create(name="old staging", dbname="app")
    store_history(target, collections=2)
    assert admin_client.get(delete_url(target)).status_code == 200
    assert MonitoredDatabase.objects.filter(pk=target.pk).exists()
    assert Snapshot.objects.filter(database=target).count() == 2
