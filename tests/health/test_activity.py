"""Live activity, long-running and idle sessions, and blocked lock pairs."""

import pytest

from perfconsole.core.db import tag_sql
from perfconsole.health import activity, checks
from tests.health.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SLEEP = "SELECT pg_sleep(30) /* health-test sleeper */"


def _pids(rows, key="pid"):
    return {row[key] for row in rows}


@pytest.fixture
def idle_session(session_factory):
    """A session that opened a transaction and went idle in it."""
    conn = session_factory(autocommit=False)
    conn.execute("SELECT 1")
    return conn


@pytest.fixture
def sleeper(background):
    job = background(SLEEP)
    wait_for(lambda: job.pid in _pids(activity.long_running(0)))
    return job


def test_long_running_check_finds_the_running_query_only(
    sleeper, idle_session, settings
):
    settings.HEALTH_THRESHOLDS = {"long_running_query_sec": 0.2}
    result = wait_for(lambda: (r := checks.check_long_running_queries()).rows and r)

    assert _pids(result.rows) == {sleeper.pid}
    assert result.rows[0]["subject"] == f"pid {sleeper.pid}"
    assert "pg_sleep(30)" in result.rows[0]["query"]
    assert result.fix_sql == [f"SELECT pg_cancel_backend({sleeper.pid});"]


def test_long_running_check_is_quiet_below_the_threshold(sleeper):
    assert checks.check_long_running_queries().status == "ok"


def test_idle_in_transaction_check_finds_the_idle_session_only(
    sleeper, idle_session, settings
):
    settings.HEALTH_THRESHOLDS = {"idle_in_transaction_sec": 0}
    result = checks.check_idle_in_transaction()

    assert _pids(result.rows) == {idle_session.info.backend_pid}
    assert result.status == "warning"
    assert f"SELECT pg_terminate_backend({idle_session.info.backend_pid});" in (
        result.fix_sql
    )
    settings.HEALTH_THRESHOLDS = {}
    assert checks.check_idle_in_transaction().status == "ok"


@pytest.fixture
def blocked_pair(problem_schema, session_factory, background):
    """A session holding a row lock and another one waiting for it."""
    holder = session_factory(autocommit=False)
    holder.execute("UPDATE health_fixture.dup SET b = b + 1 WHERE id = 1")
    waiter = background("UPDATE health_fixture.dup SET b = b + 2 WHERE id = 1")
    wait_for(lambda: activity.blocking_pairs())
    yield holder.info.backend_pid, waiter.pid
    holder.rollback()


def test_blocked_sessions_check_finds_the_pair(blocked_pair, settings):
    blocking_pid, blocked_pid = blocked_pair
    result = checks.check_blocked_sessions()

    assert [(r["blocked_pid"], r["blocking_pid"]) for r in result.rows] == [
        (blocked_pid, blocking_pid)
    ]
    row = result.rows[0]
    assert row["wait_event_type"] == "Lock"
    assert "b + 2" in row["blocked_query"] and "b + 1" in row["blocking_query"]
    assert row["blocking_state"] == "idle in transaction"
    assert result.status == "warning"
    assert result.fix_sql == [f"SELECT pg_cancel_backend({blocking_pid});"]

    settings.HEALTH_THRESHOLDS = {"blocked_critical_sec": 0}
    assert checks.check_blocked_sessions().status == "critical"


def test_sessions_show_blocking_pids(blocked_pair):
    blocking_pid, blocked_pid = blocked_pair
    by_pid = {row["pid"]: row for row in activity.sessions()}

    assert by_pid[blocked_pid]["blocked_by"] == [blocking_pid]
    assert by_pid[blocked_pid]["wait_event_type"] == "Lock"
    assert by_pid[blocking_pid]["state"] == "idle in transaction"


def test_activity_checks_are_quiet_without_sessions():
    for check in (
        checks.check_long_running_queries,
        checks.check_idle_in_transaction,
        checks.check_blocked_sessions,
    ):
        assert check().status == "ok", check.key
    assert not [
        s for s in activity.sessions() if s["application_name"] == "health-test"
    ]


def test_console_sessions_are_hidden_unless_asked_for(session_factory):
    console = session_factory(autocommit=False)
    console.execute("SET application_name = 'perfconsole-web'")
    console.execute("SELECT 1")
    tagged = session_factory(autocommit=False)
    tagged.execute(tag_sql("SELECT 2"))
    pids = {console.info.backend_pid, tagged.info.backend_pid}

    assert not pids & _pids(activity.sessions())
    assert pids <= _pids(activity.sessions(include_console=True))


def test_activity_page_shows_the_pair(admin_client, blocked_pair):
    blocking_pid, blocked_pid = blocked_pair
    content = admin_client.get("/admin/health/activity/").content.decode()

    assert 'id="activity-locks"' in content
    assert "<th>blocking pid</th>" in content
    assert f'<td class="num">{blocked_pid}</td>' in content
    assert f'<td class="num">{blocking_pid}</td>' in content
    assert "No session is waiting for a lock." not in content


def test_idle_sessions_are_listed_after_running_ones(sleeper, session_factory):
    idle = session_factory()
    idle.execute("SELECT 1 /* now idle */")
    rows = activity.sessions()
    pids = [row["pid"] for row in rows]

    assert idle.info.backend_pid in pids and sleeper.pid in pids
    assert pids.index(sleeper.pid) < pids.index(idle.info.backend_pid)
    states = [row["state"] for row in rows]
    assert states.index("active") < states.index("idle")


def test_sessions_filter_by_state_user_application_and_duration(
    sleeper, idle_session, session_factory
):
    idle = session_factory()
    idle.execute("SELECT 1")
    idle_pid, busy_pid = idle.info.backend_pid, sleeper.pid

    assert _pids(activity.sessions(state="active")) >= {busy_pid}
    assert idle_pid not in _pids(activity.sessions(state="active"))
    assert idle_pid in _pids(activity.sessions(state="idle"))
    assert busy_pid not in _pids(activity.sessions(state="not_idle")) - {busy_pid}
    assert idle_pid not in _pids(activity.sessions(state="not_idle"))
    assert _pids(activity.sessions(state="in_transaction")) & {
        idle_session.info.backend_pid
    }
    assert busy_pid in _pids(activity.sessions(application="HEALTH-TE"))
    assert not _pids(activity.sessions(application="no-such-application"))
    assert not _pids(activity.sessions(user="no_such_role"))
    user = activity.sessions(state="active", application="health-test")[0]
    assert busy_pid in _pids(activity.sessions(user=user["user_name"]))
    assert busy_pid not in _pids(activity.sessions(min_seconds=3600))
    wait_for(lambda: busy_pid in _pids(activity.sessions(min_seconds=0.5)))


def test_sessions_of_every_database(session_factory):
    idle = session_factory()
    idle.execute("SELECT 1")
    everywhere = activity.sessions(database="*")

    assert idle.info.backend_pid in _pids(everywhere)
    assert not activity.sessions(database="template1")
    assert "template1" in activity.databases()


def test_a_lock_wait_names_mode_relation_and_blocker(
    problem_schema, session_factory, background
):
    holder = session_factory(autocommit=False)
    holder.execute("LOCK TABLE health_fixture.unused IN SHARE MODE")
    waiter = background("UPDATE health_fixture.unused SET payload = '' WHERE id = 1")
    row = wait_for(
        lambda: [
            r for r in activity.sessions() if r["pid"] == waiter.pid and r["lock_mode"]
        ]
    )[0]
    holder.rollback()

    assert activity.lock_description(row) == (
        "RowExclusiveLock on health_fixture.unused"
    )
    assert row["blocked_by"] == [holder.info.backend_pid]


def test_a_row_lock_wait_names_the_table(blocked_pair):
    blocking_pid, blocked_pid = blocked_pair
    row = {r["pid"]: r for r in activity.sessions()}[blocked_pid]

    assert activity.lock_description(row) == "ShareLock on a row of health_fixture.dup"
    pair = activity.blocking_pairs()[0]
    assert pair["waiting_for"] == "ShareLock on a row of health_fixture.dup"


@pytest.fixture
def progress_table(second_connection):
    conn = second_connection()
    conn.execute("DROP SCHEMA IF EXISTS live_progress CASCADE")
    conn.execute("CREATE SCHEMA live_progress")
    conn.execute(
        "CREATE TABLE live_progress.t WITH (autovacuum_enabled = false)"
        " AS SELECT g AS id FROM generate_series(1, 20000) g"
    )
    yield "live_progress.t"
    conn.execute("DROP SCHEMA live_progress CASCADE")


def _progress_of(pid):
    return [row for row in activity.progress() if row["pid"] == pid]


def test_progress_of_an_index_build_waiting_for_writers(
    progress_table, session_factory, background
):
    writer = session_factory(autocommit=False)
    writer.execute(f"INSERT INTO {progress_table} VALUES (0)")
    build = background(f"CREATE INDEX CONCURRENTLY t_id_idx ON {progress_table} (id)")
    row = wait_for(
        lambda: [r for r in _progress_of(build.pid) if r["phase"] != "initializing"]
    )[0]
    writer.rollback()

    assert row["command"] == "CREATE INDEX CONCURRENTLY"
    assert row["relation"] == progress_table
    assert row["phase"].startswith("waiting for writers")
    assert (row["done"], row["total"], row["unit"]) == (0, 1, "lockers")
    assert row["percent"] == 0
    assert "CREATE INDEX CONCURRENTLY" in row["query"]


def test_progress_of_a_vacuum_waiting_for_a_pinned_page(
    progress_table, session_factory, background
):
    reader = session_factory(autocommit=False)
    reader.execute(f"DECLARE pin CURSOR FOR SELECT * FROM {progress_table}")
    reader.execute("FETCH 1 FROM pin")
    vacuum = background(f"VACUUM (FREEZE) {progress_table}")
    row = wait_for(lambda: _progress_of(vacuum.pid))[0]
    reader.rollback()

    assert row["command"] == "VACUUM"
    assert row["relation"] == progress_table
    assert row["unit"] == "heap blocks" and row["total"] > 0
    assert 0 <= row["percent"] <= 100


def test_progress_reads_every_view_when_nothing_runs():
    assert activity.progress() == [] or all(
        row["command"] for row in activity.progress()
    )
