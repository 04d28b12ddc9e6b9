"""The embedded PostgreSQL: start, reuse, stop, stale pid, extensions."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from perfconsole.embedded import EmbeddedServer, configured_server
from tests.scratch_servers import DEBIAN_15, unused_port

ROOT = Path(__file__).resolve().parent.parent


def listening(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def scratch_server(tmp_path):
    """A throwaway server, never the one the suite itself runs on."""
    server = EmbeddedServer(
        tmp_path / "pgdata", bin_dir=os.environ.get("EMBEDDED_PG_BIN")
    )
    yield server
    server.stop()


def test_start_reuse_stop(scratch_server):
    assert scratch_server.ensure_running() is True
    status = scratch_server.status()
    assert status.running and status.port

    with psycopg.connect(scratch_server.url()) as conn:
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        extension = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'"
        ).fetchone()
        settings_row = conn.execute(
            "SELECT current_setting('track_io_timing'),"
            " current_setting('log_min_duration_statement'),"
            " current_setting('random_page_cost'),"
            " current_setting('autovacuum_naptime')"
        ).fetchone()
    assert "pg_stat_statements" in preload
    assert extension is not None
    assert settings_row == ("on", "1s", "1.1", "20s")

    # A second call reuses the running server instead of starting another.
    assert scratch_server.ensure_running() is False
    assert scratch_server.status().pid == status.pid

    assert scratch_server.stop() is True
    assert scratch_server.status().running is False
    assert scratch_server.stop() is False


def test_stale_pid_file_is_recovered(scratch_server):
    scratch_server.ensure_running()
    scratch_server.stop()
    pid_file = scratch_server.data_dir / "postmaster.pid"
    # A crash leaves postmaster.pid behind, naming a pid that is now some
    # other process (here: this test's own process).
    pid_file.write_text(
        f"{os.getpid()}\n{scratch_server.data_dir}\n0\n5432\n\n127.0.0.1\n0 0\nready\n"
    )
    assert scratch_server.status().running is False
    assert scratch_server.ensure_running() is True
    with psycopg.connect(scratch_server.url()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def embeddedpg(server, port):
    """Return a runner of `manage.py embeddedpg ACTION` for the server on port."""
    env = {
        **os.environ,
        "EMBEDDED_PG_DATA": str(server.data_dir),
        "EMBEDDED_PG_PORT": str(port),
        "DEBUG": "1",
    }
    env.pop("DATABASE_URL", None)
    return lambda action: subprocess.run(
        [sys.executable, "manage.py", "embeddedpg", action],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_management_command_reports_the_server(scratch_server):
    # Its own port: the suite's server may hold the default one.
    run = embeddedpg(scratch_server, unused_port())
    assert run("status").returncode == 3
    started = run("start")
    assert started.returncode == 0, started.stderr
    assert "postgresql://postgres@127.0.0.1:" in started.stdout
    assert "running: pid" in run("status").stdout
    assert run("url").stdout.strip() == scratch_server.url()
    assert run("stop").stdout.strip() == "stopped"
    assert scratch_server.status().running is False


def test_the_command_starts_a_streaming_standby_of_the_server(scratch_server):
    scratch_server.port = unused_port()
    run = embeddedpg(scratch_server, scratch_server.port)
    try:
        started = run("standby")
        assert started.returncode == 0, started.stderr
        standby_url = started.stdout.split("running: ")[1].strip()
        assert standby_url != scratch_server.url()
        with psycopg.connect(standby_url) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        with psycopg.connect(scratch_server.url()) as conn:
            states = conn.execute("SELECT state FROM pg_stat_replication").fetchall()
        assert states == [("streaming",)] or states == [("catchup",)]
        # A second call starts the copy made the first time, not a new one.
        assert run("stop-standby").stdout.strip() == "standby stopped"
        again = run("standby")
        assert again.returncode == 0, again.stderr
        assert again.stdout.split("running: ")[1].strip() == standby_url
    finally:
        assert run("stop-standby").returncode == 0
    assert run("stop-standby").stdout.strip() == "not running"


@pytest.mark.skipif(
    not DEBIAN_15.exists(), reason="Debian's PostgreSQL 15 is not installed"
)
def test_another_bin_directory_runs_that_version(tmp_path):
    server = EmbeddedServer(tmp_path / "pg15", bin_dir=DEBIAN_15)
    try:
        server.ensure_running()
        with psycopg.connect(server.url()) as conn:
            version = conn.execute("SHOW server_version_num").fetchone()[0]
        assert version.startswith("15")
    finally:
        server.stop()


@pytest.mark.django_db
def test_suite_database_has_pg_stat_statements():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'"
        )
        assert cursor.fetchone() is not None
        # Preloaded too: reading the view fails without shared_preload_libraries.
        cursor.execute("SELECT count(*) FROM pg_stat_statements")
        assert cursor.fetchone()[0] > 0
        cursor.execute("SELECT current_setting('application_name')")
        assert cursor.fetchone()[0] == "perfconsole-test"


@pytest.mark.skipif(not settings.EMBEDDED_DATABASE, reason="DATABASE_URL is set")
def test_settings_use_the_embedded_server():
    # The test session started it on the port the settings planned.
    assert settings.DATABASES["default"]["PORT"] == configured_server().status().port


def test_importing_the_settings_starts_no_server(tmp_path):
    port = unused_port()
    data_dir = tmp_path / "pgdata"
    env = {
        **os.environ,
        "EMBEDDED_PG_DATA": str(data_dir),
        "EMBEDDED_PG_PORT": str(port),
        "PERFCONSOLE_PROCESS": "web",
        "DEBUG": "1",
    }
    env.pop("DATABASE_URL", None)
    # The apps are loaded too, as every entry point does.
    probe = (
        "import django; django.setup(); from django.conf import settings;"
        " print(settings.DATABASES['default']['PORT'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(port)
    assert not data_dir.exists()
    assert not listening(port)


def test_a_port_held_by_a_client_connection_is_not_free():
    """A client's local end can take a port from the ephemeral range: the
    server cannot bind it then, though nothing listens there (CI saw a
    scratch server fail so)."""
    from perfconsole.embedded.server import _free_port, _port_in_use

    server_port = int(connection.settings_dict["PORT"])
    with socket.socket() as client:
        client.bind(("127.0.0.1", 0))
        held = client.getsockname()[1]
        client.connect(("127.0.0.1", server_port))
        assert _port_in_use(held)
        assert _free_port(held) != held
