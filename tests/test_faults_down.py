"""A real web server whose PostgreSQL stops and starts again.

gunicorn serves the console from a scratch PostgreSQL server; the server is
stopped: pages say "Database unavailable" within seconds, and work again once
it is back, without restarting the web server.
"""

import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from tests.scratch_servers import start_scratch_server, unused_port

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "never-shown-secret"


def get(url, timeout=40):
    """Return (status, body, seconds) of a GET that follows no redirect.

    It sends a session cookie, so even the admin's redirect to the login
    page reads the database (the session table).
    """

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(
        url, headers={"Cookie": "sessionid=no-such-session-key"}
    )
    started = time.monotonic()
    try:
        with opener.open(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, body.decode(), time.monotonic() - started


@pytest.fixture
def scratch_server(tmp_path):
    server = start_scratch_server(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def web_server(scratch_server, tmp_path):
    """Return start(**settings): gunicorn on the scratch server, its base URL."""
    db_port = scratch_server.status().port
    env = {
        **os.environ,
        # Trust authentication ignores the password: it must never be shown.
        "DATABASE_URL": f"postgresql://postgres:{PASSWORD}@127.0.0.1:{db_port}/perfconsole",
        "PERFCONSOLE_PROCESS": "web",
        "SECRET_KEY": "faults-test-" + "x" * 40,
        # Static files without collectstatic; the 503 pages do not depend on it.
        "DEBUG": "1",
    }
    env.pop("PERFCONSOLE_TEST_DB", None)
    # The pages below read only the session table.
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "sessions", "--verbosity", "0"],
        cwd=ROOT,
        env={**env, "PERFCONSOLE_PROCESS": "command"},
        check=True,
    )
    log = open(tmp_path / "gunicorn.log", "w")
    processes = []

    def start(threads=1, **settings):
        port = unused_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "1"]
            + ["--bind", f"127.0.0.1:{port}", "--threads", str(threads)]
            + ["--timeout", "60"],
            cwd=ROOT,
            env={**env, **settings},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                get(base + "/admin/login/", timeout=5)
                return base
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(
                        (tmp_path / "gunicorn.log").read_text()
                    ) from None
                time.sleep(0.2)

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    log.close()


def test_a_stopped_server_gives_a_clear_503_and_the_console_recovers(
    scratch_server, web_server
):
    db_port = scratch_server.status().port
    admin = web_server() + "/admin/"
    assert get(admin)[0] == 302

    scratch_server.stop()
    for _attempt in range(2):
        status, body, seconds = get(admin)
        assert status == 503
        assert seconds < 5
        assert "Database unavailable" in body
        assert f"127.0.0.1:{db_port}" in body and "perfconsole" in body
        # libpq's own words.
        assert "Connection refused" in body
        assert PASSWORD not in body

    scratch_server.ensure_running()
    deadline = time.monotonic() + 10
    while (status := get(admin)[0]) != 302 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert status == 302

    # A restart between two requests leaves the pool a stale connection: the
    # request takes a fresh one instead of failing.
    scratch_server.stop()
    scratch_server.ensure_running()
    status, _body, seconds = get(admin)
    assert status == 302 and seconds < 5


def test_a_busy_pool_says_so_after_its_timeout(scratch_server, web_server):
    # One pooled connection, held by a request waiting for a lock.
    base = web_server(
        threads=2,
        DB_POOL_MIN="1",
        DB_POOL_MAX="1",
        DB_POOL_TIMEOUT="2",
        ADMIN_LOCK_TIMEOUT_MS="6000",
    )
    admin = base + "/admin/"
    with psycopg.connect(scratch_server.url(), autocommit=False) as holder:
        holder.execute("LOCK TABLE django_session IN ACCESS EXCLUSIVE MODE")
        waiting = threading.Thread(target=get, args=(admin,))
        waiting.start()
        time.sleep(0.5)
        status, body, seconds = get(admin)
        holder.rollback()
        waiting.join()
    assert status == 503
    assert "Database busy" in body
    assert "No database connection became free within 2 s" in body
    assert 2 <= seconds < 5
