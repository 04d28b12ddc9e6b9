"""Real targets for the monitored databases' tests.

- `target_dbname`: a database of its own on the suite's server, made once
  per run (from template1: pg_stat_statements installed).
- `make_target`: a MonitoredDatabase reaching a database of that server.
- `dead_port`: a port bound by the test but not listening: a connection to
  it is refused at once, never accepted by a server another test started.
- `password_server`: a scratch server (the embedded binaries) whose pg_hba
  asks one role for its SCRAM password, the suite's own being trust-only.
"""

import socket
import uuid

import psycopg
import pytest
from django.db import connection

from perfconsole.core.db import console_connection_params, raw_connection
from perfconsole.history.models import MonitoredDatabase
from tests.scratch_servers import start_scratch_server

PASSWORD_ROLE = "fleet_password_role"
PASSWORD = "correct-horse-7f3a"


def admin_connection():
    """Return an autocommit connection to the suite's server, as the console."""
    return raw_connection(console_connection_params(dbname="postgres"))


@pytest.fixture(scope="session")
def target_dbname(django_db_setup, django_db_blocker):
    """Create a database on the suite's server; drop it at the end of the run."""
    name = f"fleet_target_{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock(), admin_connection() as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE template1")
    yield name
    with django_db_blocker.unblock(), admin_connection() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def server_address():
    """Return (host, port, user) of the suite's server."""
    settings_dict = connection.settings_dict
    return (
        settings_dict["HOST"] or "127.0.0.1",
        int(settings_dict["PORT"]),
        settings_dict["USER"],
    )


@pytest.fixture
def make_target(transactional_db, target_connections, target_dbname, server_address):
    """Return a function creating a target on the suite's server."""
    host, port, user = server_address

    def make(name=None, **fields):
        values = {"host": host, "port": port, "dbname": target_dbname, "user": user}
        values.update(fields)
        return MonitoredDatabase.objects.create(
            name=name or f"target {uuid.uuid4().hex[:6]}", **values
        )

    return make


@pytest.fixture
def dead_port():
    """Yield a port bound to 127.0.0.1 without a listener (refuses at once)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@pytest.fixture(scope="session")
def password_server(tmp_path_factory):
    """Start a scratch server where PASSWORD_ROLE must give its password.

    Yield (port, role, password). Every other connection stays trusted.
    """
    server = start_scratch_server(tmp_path_factory.mktemp("fleet"))
    try:
        hba = server.data_dir / "pg_hba.conf"
        rule = f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
        hba.write_text(rule + hba.read_text())
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute(
                f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'"
                " IN ROLE pg_monitor"
            )
            conn.execute("SELECT pg_reload_conf()")
        yield server.status().port, PASSWORD_ROLE, PASSWORD
    finally:
        server.stop()
