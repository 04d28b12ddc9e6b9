"""Find or start the embedded PostgreSQL used when DATABASE_URL is unset."""

import os
from pathlib import Path

from .server import EmbeddedServer, EmbeddedServerError

__all__ = ["EmbeddedServer", "EmbeddedServerError", "configured_server"]

VAR_DIR = Path(__file__).resolve().parents[2] / "var"


def configured_server():
    """Return the server chosen by EMBEDDED_PG_BIN / EMBEDDED_PG_DATA."""
    bin_dir = os.environ.get("EMBEDDED_PG_BIN") or None
    data_dir = os.environ.get("EMBEDDED_PG_DATA")
    port = (
        int(os.environ["EMBEDDED_PG_PORT"])
        if os.environ.get("EMBEDDED_PG_PORT")
        else None
    )
    server = EmbeddedServer(data_dir or VAR_DIR / "pg18", bin_dir=bin_dir, port=port)
    if bin_dir and not data_dir:
        # One data directory per major version: they are not compatible.
        server.data_dir = VAR_DIR / f"pg{server.major_version()}"
        server.log_file = VAR_DIR / f"pg{server.major_version()}.log"
    return server
