"""Scratch PostgreSQL servers the tests start on this machine, and free ports.

A scratch server is an embedded server of its own (never the suite's), in a
temporary data directory, on a port the kernel picked. Its module's fixture
prepares it and stops it; a test that stops it starts it again with
`ensure_running()`, on the same port.
"""

import os
import socket
from pathlib import Path

from perfconsole.embedded import EmbeddedServer

# Debian's PostgreSQL 15, a server of another major version than the wheel's.
DEBIAN_15 = Path("/usr/lib/postgresql/15/bin")


def unused_port() -> int:
    """Return a port nothing listens on (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_scratch_server(directory: Path, bin_dir=None) -> EmbeddedServer:
    """Start a scratch server in directory; bin_dir defaults to the suite's."""
    server = EmbeddedServer(
        directory / "pgdata",
        bin_dir=bin_dir or os.environ.get("EMBEDDED_PG_BIN"),
        port=unused_port(),
    )
    server.ensure_running()
    return server
