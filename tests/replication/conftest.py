"""The replication tests' servers and their monitored-database rows."""

import pytest
from django.db.backends.base.base import BaseDatabaseWrapper

from perfconsole.history.connections import ALIAS_PREFIX
from perfconsole.history.models import MonitoredDatabase


def target_row(name, port, **fields):
    """Create the monitored database of a scratch server on this machine."""
    return MonitoredDatabase.objects.create(
        name=name,
        host="127.0.0.1",
        port=port,
        dbname="perfconsole",
        user="postgres",
        **fields,
    )


@pytest.fixture(autouse=True)
def target_connections(request, monkeypatch):
    """Let a database test connect through the aliases of the targets it makes.

    Django's test case refuses aliases it did not list when it started, and
    a target's alias is registered during the test.
    """
    if "db" not in request.fixturenames:
        return
    request.getfixturevalue("db")
    blocker = request.getfixturevalue("django_db_blocker")
    guarded = BaseDatabaseWrapper.ensure_connection
    real = blocker._real_ensure_connection

    def ensure_connection(wrapper, *args, **kwargs):
        if wrapper.alias.startswith(ALIAS_PREFIX):
            return real(wrapper, *args, **kwargs)
        return guarded(wrapper, *args, **kwargs)

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", ensure_connection)


@pytest.fixture
def targets(db, replication_pair):
    """Register the scratch primary and its standby as monitored databases."""
    primary = target_row("scratch primary", replication_pair.primary_port)
    standby = target_row(
        "scratch standby",
        replication_pair.standby_port,
        role=MonitoredDatabase.STANDBY,
        primary=primary,
    )
    return primary, standby


@pytest.fixture
def paused_replay(replication_pair):
    """Pause the standby's replay for a test; resume it whatever happens.

    A commit is replayed first: the replay delay is the age of the last
    transaction replayed, unknown before any.
    """
    with replication_pair.connect_primary() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS replayed (v int)")
        conn.execute("INSERT INTO replayed VALUES (1)")
    replication_pair.wait_until_replayed()
    with replication_pair.connect_standby() as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
        try:
            yield conn
        finally:
            conn.execute("SELECT pg_wal_replay_resume()")
    replication_pair.wait_until_replayed()
