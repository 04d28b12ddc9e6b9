"""Every monitoring page shows the target the switcher chose, on a real second server.

The second target is a scratch PostgreSQL server started for this module:
pg_stat_activity and pg_stat_statements are per cluster, so a second
database on the test server would not prove that a page reads the target
and only the target.
"""

import uuid

import psycopg
import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from perfconsole.core.db import (
    StatisticsUnavailable,
    console_connection_params,
    fetch_dicts,
    raw_connection,
)
from perfconsole.embedded.server import DATABASE_NAME, SUPERUSER
from perfconsole.health import activity
from perfconsole.history.collector import collect, console_database
from perfconsole.history.connections import connection_alias
from perfconsole.history.models import MonitoredDatabase
from perfconsole.history.scoping import SESSION_KEY
from perfconsole.monitoring.explain import EXPLAIN_ROLE
from tests.health.conftest import Background, wait_for
from tests.scratch_servers import DEBIAN_15, start_scratch_server, unused_port

pytestmark = pytest.mark.django_db(transaction=True)

QUERIES = "admin:monitoring_querystat_changelist"
INDEXES = "admin:monitoring_indexusage_changelist"
TABLES = "admin:monitoring_tableperformance_changelist"
ACTIVITY = "admin:health_activity_changelist"
SIGNAL = "admin:health_activity_signal"
CHECKS = "admin:health_healthcheck_changelist"
SETTINGS = "admin:monitoring_settingsreview_changelist"
ANALYZER = "admin:analyzer_analyzerreport_changelist"
DASHBOARD = "admin:history_dashboard"
# A name only the scratch server has: its table, index and statements.
MARK = f"scoping_only_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A second PostgreSQL server with a table, an index and a statement of its own."""
    # Debian's PostgreSQL 15 where installed (CI has it): a target of another
    # major version than the console's reads other view variants (pg14,
    # pg_stat_statements 1.10) and plans with PREPARE before 16.
    server = start_scratch_server(
        tmp_path_factory.mktemp("scoping"),
        DEBIAN_15 if DEBIAN_15.is_dir() else None,
    )
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {MARK} (id int PRIMARY KEY, v int)")
        conn.execute(f"CREATE INDEX {MARK}_v_idx ON {MARK} (v)")
        # A duplicate: the health checks and the analyzer name it.
        conn.execute(f"CREATE INDEX {MARK}_v_id_idx ON {MARK} (v, id)")
        conn.execute("ALTER SYSTEM SET work_mem = '7MB'")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute(f"INSERT INTO {MARK} SELECT g, g FROM generate_series(1, 100) g")
        conn.execute(f"SELECT count(*) FROM {MARK} WHERE v > 10")
        # The role that plans monitored statements, as on the console's server.
        conn.execute(
            f"CREATE ROLE {EXPLAIN_ROLE} LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS"
        )
        conn.execute(f"GRANT SELECT ON {MARK} TO {EXPLAIN_ROLE}")
        # A role the console could read the target as, without pg_monitor.
        conn.execute(f"CREATE ROLE {MARK}_plain LOGIN")
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _targets_reachable(target_connections):
    """Every test here reaches the scratch target through its alias."""


@pytest.fixture
def target(scratch):
    """The scratch server as a monitored database."""
    return MonitoredDatabase.objects.create(
        name="scratch server",
        host="127.0.0.1",
        port=scratch.status().port,
        dbname=DATABASE_NAME,
        user=SUPERUSER,
    )


@pytest.fixture
def sessions():
    """Open sessions the console does not hide; cancel their work at the end."""
    opened, jobs = [], []

    def sleep_on(params):
        conn = psycopg.connect(**params, autocommit=True)
        opened.append(conn)
        conn.execute("SET application_name = 'scoping-test'")
        job = Background(conn, "SELECT pg_sleep(30)")
        jobs.append(job)
        return job

    yield sleep_on
    for job in jobs:
        job.stop()
    for conn in opened:
        conn.close()


def page(client, name, **query):
    response = client.get(reverse(name), query, follow=True)
    return response, response.content.decode()


def test_a_statement_run_only_on_the_target_shows_on_its_page_only(
    admin_client, target
):
    console_pk = console_database().pk
    response, body = page(admin_client, QUERIES, target=target.pk, q=MARK)
    assert response.status_code == 200, body
    assert f"FROM {MARK}" in body
    assert 'id="target-shown">scratch server<' in body

    response, body = page(admin_client, QUERIES, target=console_pk, q=MARK)
    assert response.status_code == 200
    assert f"FROM {MARK}" not in body


def test_the_query_page_and_its_plan_are_the_targets(admin_client, target, scratch):
    with psycopg.connect(scratch.url()) as conn:
        queryid, userid = conn.execute(
            "SELECT queryid, userid FROM pg_stat_statements"
            " WHERE query LIKE %s AND toplevel",
            [f"SELECT count(*) FROM {MARK}%"],
        ).fetchone()
    stat_id = f"{queryid}.{userid}.1"
    admin_client.get(reverse(QUERIES), {"target": target.pk})
    url = reverse("admin:monitoring_querystat_change", args=[stat_id])

    response = admin_client.post(url)

    body = response.content.decode()
    assert response.status_code == 200, body
    assert f"on {MARK}" in body  # the plan's scan of the target's table
    entry = LogEntry.objects.get(object_id=stat_id)
    assert entry.change_message.startswith("Explained on scratch server (plan only")
    # The console's database has no such statement.
    admin_client.get(reverse(QUERIES), {"target": console_database().pk})
    assert admin_client.get(url).status_code == 404


def test_a_target_without_the_explain_role_says_how_to_create_it(
    admin_client, target, scratch, settings
):
    settings.EXPLAIN_DATABASE_URL = "postgresql://scoping_nobody@127.0.0.1/x"
    with psycopg.connect(scratch.url()) as conn:
        queryid, userid = conn.execute(
            "SELECT queryid, userid FROM pg_stat_statements"
            " WHERE query LIKE %s AND toplevel",
            [f"SELECT count(*) FROM {MARK}%"],
        ).fetchone()
    admin_client.get(reverse(QUERIES), {"target": target.pk})
    url = reverse("admin:monitoring_querystat_change", args=[f"{queryid}.{userid}.1"])

    body = admin_client.post(url).content.decode()

    assert (
        "Cannot connect as the explain role &#x27;scoping_nobody&#x27; to "
        "scratch server" in body
    )
    assert "CREATE ROLE scoping_nobody LOGIN" in body


def test_a_missing_grant_on_a_target_names_the_targets_role(scratch):
    plain = MonitoredDatabase.objects.create(
        name="plain",
        host="127.0.0.1",
        port=scratch.status().port,
        dbname=DATABASE_NAME,
        user=f"{MARK}_plain",
    )

    with pytest.raises(StatisticsUnavailable) as refused:
        fetch_dicts(f"SELECT * FROM {MARK}", using=connection_alias(plain))

    assert f"GRANT pg_monitor TO {MARK}_plain" in str(refused.value)


def test_slow_queries_read_the_targets_statements(admin_client, target, scratch):
    with psycopg.connect(scratch.url(), autocommit=True) as conn:
        conn.execute(f"SELECT pg_sleep(1.1), 'slow' AS {MARK}_slow")
    response, body = page(admin_client, "admin:monitoring_slowquery_changelist")
    assert response.status_code == 200
    assert f"{MARK}_slow" not in body
    response, body = page(
        admin_client, "admin:monitoring_slowquery_changelist", target=target.pk
    )
    assert response.status_code == 200, body
    assert f"{MARK}_slow" in body


def test_the_history_pages_show_the_targets_rows(admin_client, target, scratch):
    assert collect(target).snapshot.status == "ok"
    with psycopg.connect(scratch.url(), autocommit=True) as conn:
        conn.execute(f"SELECT v FROM {MARK} WHERE id = 7")
    assert collect(target).snapshot.status == "ok"
    window = {"window": "1h", "q": MARK}

    response, body = page(admin_client, QUERIES, target=target.pk, **window)
    assert response.status_code == 200, body
    assert f"SELECT v FROM {MARK} WHERE id = $1" in body
    response, body = page(admin_client, TABLES, window="1h")
    assert response.status_code == 200
    assert f">public.{MARK}</a>" in body
    response, body = page(
        admin_client,
        "admin:monitoring_tableperformance_history",
        table=f"public.{MARK}",
        window="1h",
    )
    assert response.status_code == 200, body
    assert f"Table public.{MARK} over time" in body
    response, body = page(admin_client, DASHBOARD, window="1h")
    assert response.status_code == 200
    assert "scratch server" in body

    response, body = page(admin_client, QUERIES, target=console_database().pk, **window)
    assert response.status_code == 200
    assert f"FROM {MARK}" not in body


def test_index_usage_and_tables_read_the_targets_catalog(admin_client, target):
    for name in (INDEXES, TABLES):
        response, body = page(admin_client, name, target=target.pk)
        assert response.status_code == 200, body
        assert MARK in body, name
        response, body = page(admin_client, name, target=console_database().pk)
        assert response.status_code == 200
        assert MARK not in body, name


def test_health_checks_settings_and_analyzer_judge_the_target(admin_client, target):
    duplicate = f"public.{MARK}_v_idx"
    for name in (CHECKS, ANALYZER):
        response, body = page(admin_client, name, target=target.pk)
        assert response.status_code == 200, body
        assert duplicate in body, name
        response, body = page(admin_client, name, target=console_database().pk)
        assert response.status_code == 200
        assert duplicate not in body, name
    _, body = page(admin_client, SETTINGS, target=target.pk)
    assert "7MB" in body
    _, body = page(admin_client, SETTINGS, target=console_database().pk)
    assert "7MB" not in body


def test_the_choice_is_kept_across_pages(admin_client, target):
    response = admin_client.post(
        reverse("switch_target"),
        {"target": target.pk, "next": reverse(INDEXES) + "?q=x"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse(INDEXES) + "?q=x"
    assert admin_client.session[SESSION_KEY] == target.pk

    for name in (INDEXES, TABLES, ACTIVITY, CHECKS, SETTINGS, QUERIES, DASHBOARD):
        response, body = page(admin_client, name)
        assert response.status_code == 200, (name, body)
        assert 'id="target-shown">scratch server<' in body, name
    _, body = page(admin_client, INDEXES)
    assert MARK in body
    # Resets clear the console's own counters: not offered on a target.
    assert 'id="reset-statistics"' not in page(admin_client, QUERIES)[1]
    reset = reverse("admin:monitoring_querystat_reset")
    assert admin_client.post(reset, {"confirm": "yes"}).status_code == 403
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert "Database overview: scratch server" in index
    # The replication page follows the switcher too.
    _, body = page(admin_client, "admin:replication_replication_changelist")
    assert 'id="replication-target">scratch server<' in body
    # The switch page lists the targets, the one shown selected.
    body = admin_client.get(reverse("switch_target")).content.decode()
    assert f'<option value="{target.pk}" selected>' in body


@pytest.mark.parametrize("value", ["abc", "999999999", "1e3", "-1", "", "１"])
def test_a_bad_target_is_a_400(admin_client, value):
    response = admin_client.get(reverse(QUERIES), {"target": value})
    assert response.status_code == 400
    assert "monitored database" in response.content.decode()
    posted = admin_client.post(reverse("switch_target"), {"target": value})
    assert posted.status_code == 400


def test_a_nul_or_a_disabled_target_is_a_400_and_keeps_the_choice(admin_client, target):
    admin_client.get(reverse(QUERIES), {"target": target.pk})
    assert admin_client.get(reverse(QUERIES) + "?target=1%00").status_code == 400
    disabled = MonitoredDatabase.objects.create(name="off", enabled=False)
    response = admin_client.get(reverse(QUERIES), {"target": disabled.pk})
    assert response.status_code == 400
    assert "disabled" in response.content.decode()
    assert admin_client.session[SESSION_KEY] == target.pk


def test_a_target_disabled_since_it_was_chosen_falls_back_with_a_message(
    admin_client, target
):
    admin_client.get(reverse(QUERIES), {"target": target.pk})
    MonitoredDatabase.objects.filter(pk=target.pk).update(enabled=False)

    response, body = page(admin_client, INDEXES)

    assert response.status_code == 200
    assert "removed or disabled" in body
    assert MARK not in body


def test_a_target_that_is_down_says_so_on_every_page(admin_client):
    down = MonitoredDatabase.objects.create(
        name="nowhere", host="127.0.0.1", port=unused_port(), dbname="x", user="x"
    )
    admin_client.get(reverse(QUERIES), {"target": down.pk})
    for name in (
        QUERIES,
        INDEXES,
        TABLES,
        ACTIVITY,
        SETTINGS,
        CHECKS,
        ANALYZER,
        "admin:index",
    ):
        response, body = page(admin_client, name)
        assert response.status_code in (200, 503), (name, response.status_code)
        assert "nowhere is down: The database server could not be reached" in body, name


def test_cancel_acts_on_the_target_only_and_is_audited(
    admin_client, target, scratch, sessions
):
    console_sleeper = sessions(console_connection_params())
    target_sleeper = sessions(psycopg.conninfo.conninfo_to_dict(scratch.url()))
    wait_for(lambda: console_sleeper.pid in {r["pid"] for r in activity.sessions()})
    admin_client.get(reverse(ACTIVITY), {"target": target.pk})
    # The console's sleeper is no session of the target: nothing is sent.
    refused = admin_client.post(
        reverse(SIGNAL),
        {"pid": console_sleeper.pid, "action": "cancel", "confirm": "yes"},
        follow=True,
    )
    assert f"No client session with pid {console_sleeper.pid}" in (
        refused.content.decode()
    )

    body = admin_client.get(reverse(ACTIVITY)).content.decode()
    assert f">{target_sleeper.pid}<" in body
    response = admin_client.post(
        reverse(SIGNAL),
        {"pid": target_sleeper.pid, "action": "cancel", "confirm": "yes"},
    )

    assert response.status_code == 302
    target_sleeper.thread.join(timeout=10)
    assert isinstance(target_sleeper.error, psycopg.errors.QueryCanceled)
    assert console_sleeper.thread.is_alive() and console_sleeper.error is None
    with raw_connection() as conn:
        state = conn.execute(
            "SELECT state FROM pg_stat_activity WHERE pid = %s",
            [console_sleeper.pid],
        ).fetchone()
    assert state == ("active",)
    entry = LogEntry.objects.get(object_id=str(target_sleeper.pid))
    assert entry.object_repr == f"pid {target_sleeper.pid} on scratch server"
    assert "on scratch server" in entry.change_message
    assert "pg_sleep(30)" in entry.change_message


def test_a_confirmation_for_another_target_sends_nothing(
    admin_client, target, scratch, sessions
):
    target_sleeper = sessions(psycopg.conninfo.conninfo_to_dict(scratch.url()))
    admin_client.get(reverse(ACTIVITY), {"target": target.pk})
    confirm = admin_client.get(
        reverse(SIGNAL), {"pid": target_sleeper.pid, "action": "cancel"}
    ).content.decode()
    assert 'id="signal-target">scratch server<' in confirm
    # Another tab switches to the console's database before the click.
    admin_client.get(reverse(ACTIVITY), {"target": console_database().pk})

    response = admin_client.post(
        reverse(SIGNAL),
        {
            "pid": target_sleeper.pid,
            "action": "cancel",
            "confirm": "yes",
            "on": target.pk,
        },
        follow=True,
    )

    assert "Nothing was sent" in response.content.decode()
    assert target_sleeper.thread.is_alive()
    assert not LogEntry.objects.filter(object_id=str(target_sleeper.pid)).exists()
