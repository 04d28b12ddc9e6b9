"""The embedded PostgreSQL used when DATABASE_URL is unset.

Settings only compute its address (`configured_server().planned_url()`); the
entry points (manage.py, config/wsgi.py, the test session) start it with
`start_if_embedded()` before anything connects, and the process that started
it stops it with `stop_if_started_here()`.
"""

import os
from pathlib import Path

from .server import EmbeddedServer, EmbeddedServerError

__all__ = [
    "EmbeddedServer",
    "EmbeddedServerError",
    "configured_server",
    "start_if_embedded",
    "stop_if_started_here",
]

VAR_DIR = Path(__file__).resolve().parents[2] / "var"

_started_here = False


def configured_server() -> EmbeddedServer:
    """Return the server chosen by EMBEDDED_PG_BIN / _DATA / _PORT; start nothing.

    Its port is fixed here (see `EmbeddedServer.planned_port`), so that the
    settings and the entry point that starts it agree on it.
    """
    bin_dir = os.environ.get("EMBEDDED_PG_BIN") or None
    data_dir = os.environ.get("EMBEDDED_PG_DATA")
    raw_port = os.environ.get("EMBEDDED_PG_PORT", "")
    if raw_port and not raw_port.isdecimal():
        raise EmbeddedServerError(f"EMBEDDED_PG_PORT={raw_port!r} is not a port")
    server = EmbeddedServer(
        data_dir or VAR_DIR / "pg18", bin_dir=bin_dir, port=int(raw_port or 0) or None
    )
    if bin_dir and not data_dir:
        # One data directory per major version: they are not compatible.
        major = server.major_version()
        server.data_dir = VAR_DIR / f"pg{major}"
        server.log_file = VAR_DIR / f"pg{major}.log"
    server.port = server.planned_port()
    return server


def start_if_embedded() -> bool:
    """Start the embedded server unless DATABASE_URL is set or it already runs.

    Return True if this call started it.
    """
    global _started_here
    if os.environ.get("DATABASE_URL"):
        return False
    started = configured_server().ensure_running()
    _started_here = _started_here or started
    return started


def stop_if_started_here() -> bool:
    """Stop the embedded server if this process started it; return True if so."""
    global _started_here
    if not _started_here:
        return False
    from django.db import connections

    connections.close_all()
    configured_server().stop()
    _started_here = False
    return True
