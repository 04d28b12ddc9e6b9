"""The replication tests' servers and their monitored-database rows."""

import pytest

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
def _targets_reachable(request):
    """Let every database test here reach the targets through their aliases."""
    if "db" in request.fixturenames:
        request.getfixturevalue("target_connections")


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
