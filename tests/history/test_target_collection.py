"""Targets other than the console's database are collected on their own
connection, each in a task of its own: a scratch PostgreSQL server started
here is one, stopped and started again; a database without pg_stat_statements
and a target that times out are others."""

import importlib
import io
import uuid
from datetime import timedelta

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ, Task

from perfconsole.alerts.models import Alert, AlertRule, AlertState, Metric
from perfconsole.embedded.server import SUPERUSER
from perfconsole.history.collector import collect
from perfconsole.history.dispatch import dispatch
from perfconsole.history.models import (
    Baseline,
    CounterDelta,
    MonitoredDatabase,
    Snapshot,
    StatementDelta,
    StatementText,
)
from tests.scratch_servers import start_scratch_server


@pytest.fixture(scope="module")
def scratch_target(tmp_path_factory):
    """Start a PostgreSQL server of its own (pg_stat_statements preloaded)."""
    server = start_scratch_server(tmp_path_factory.mktemp("target"))
    yield server
    server.stop()


@pytest.fixture
def running(scratch_target, target_connections):
    """Return the scratch server, started again if a test stopped it."""
    scratch_target.ensure_running()
    return scratch_target


def on_target(server, sql, database="perfconsole"):
    """Run statements on the scratch server, as its superuser."""
    with psycopg.connect(server.url(database), autocommit=True) as conn:
        conn.execute(sql)


def target_of(server, name=None, database="perfconsole"):
    """Create the monitored database of one database on the scratch server."""
    return MonitoredDatabase.objects.create(
        name=name or f"scratch-{uuid.uuid4().hex[:6]}",
        host="127.0.0.1",
        port=server.planned_port(),
        dbname=database,
        user=SUPERUSER,
    )


@pytest.fixture
def marker_table(running):
    """Create a table on the target; return it and a marker function.

    The marker runs a statement shape only this test runs, on the target.
    """
    table = f"target_probe_{uuid.uuid4().hex[:8]}"
    on_target(running, f"CREATE TABLE {table} (id int PRIMARY KEY, note text)")

    def marker(times):
        with psycopg.connect(running.url(), autocommit=True) as conn:
            for value in range(times):
                conn.execute(
                    f"INSERT INTO {table} VALUES (%s, 'n') ON CONFLICT DO NOTHING",
                    [value],
                )
                conn.execute(
                    f"SELECT count(*) AS {table}_marker FROM {table} WHERE id > %s",
                    [value],
                )
            conn.execute("SELECT pg_stat_force_next_flush()")
            # The backend flushes before it reads the next statement: once
            # this one answers, the counters are visible to other sessions.
            conn.execute("SELECT 1")

    yield table, marker
    on_target(running, f"DROP TABLE IF EXISTS {table}")


def test_a_target_is_collected_on_its_own_connection_with_its_own_deltas(
    history_db, marker_table, running
):
    table, marker = marker_table
    target = target_of(running)
    marker(2)
    first = collect(target).snapshot
    assert first.status == Snapshot.OK, first.error
    marker(5)
    second = collect(target)
    assert second.snapshot.status == Snapshot.OK, second.snapshot.error
    assert second.down_reason is None
    assert {"statement", "database", "table", "index", "activity"} <= set(second.stored)

    # The marker ran only on the target: its text and deltas are the
    # target's, and the console's own database has none of them.
    text = StatementText.objects.get(database=target, query__contains=f"{table}_marker")
    delta = StatementDelta.objects.get(
        database=target, statement=text, period_start=second.snapshot.taken_at
    )
    assert (delta.calls, delta.rows) == (5, 5)
    assert not StatementText.objects.filter(
        database=history_db, query__contains=f"{table}_marker"
    ).exists()
    counters = CounterDelta.objects.get(
        database=target,
        source="table",
        key=f"public.{table}",
        period_start=second.snapshot.taken_at,
    ).counters
    # 7 inserts in all, 2 before the baseline; the ids 0 and 1 conflict.
    assert counters["n_tup_ins"] == 3
    assert counters["idx_scan"] >= 5
    # Texts are read once: a known entry is not fetched or stored again.
    marker(1)
    third = collect(target).snapshot
    assert third.status == Snapshot.OK, third.error
    assert (
        StatementText.objects.filter(
            database=target, query__contains=f"{table}_marker"
        ).count()
        == 1
    )
    # The console's own collection still reads its own views only.
    console = collect(history_db).snapshot
    assert console.status == Snapshot.OK, console.error
    assert not StatementDelta.objects.filter(
        database=history_db, statement__query__contains=f"{table}_marker"
    ).exists()


@pytest.fixture
def unreachable_rule(history_db):
    """Return the seeded "database unreachable" rule (a flush removes it)."""
    seeded = importlib.import_module(
        "perfconsole.alerts.migrations.0006_database_unreachable_rule"
    ).RULE
    rule, _ = AlertRule.objects.get_or_create(name=seeded["name"], defaults=seeded)
    return rule


def the_alert_of(target):
    """Return the open "database unreachable" alert of a target, or None."""
    return Alert.objects.filter(
        rule__metric=Metric.DATABASE_UNREACHABLE,
        database=target,
        subject=target.name,
        state__in=[AlertState.FIRING, AlertState.ACKNOWLEDGED],
    ).first()


@pytest.mark.slow
def test_a_stopped_target_is_down_with_its_alert_and_the_others_carry_on(
    history_db, running, unreachable_rule
):
    scratch = target_of(running)
    # A second target on another server: the suite's own, reached as a target.
    settings_dict = connection.settings_dict
    other = MonitoredDatabase.objects.create(
        name="suite-server",
        host=settings_dict["HOST"] or "127.0.0.1",
        port=int(settings_dict["PORT"]),
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
    )
    result = dispatch(sync=True)
    assert f"{scratch.name}: queued" in result and "suite-server: queued" in result
    for target in (scratch, other):
        target.refresh_from_db()
        assert target.status == MonitoredDatabase.UP, target.status_reason
        assert Snapshot.objects.filter(database=target, status=Snapshot.OK).exists()

    running.stop()
    later = timezone.now() + timedelta(seconds=scratch.collect_interval_s)
    dispatch(now=later, sync=True)
    scratch.refresh_from_db()
    assert scratch.status == MonitoredDatabase.DOWN
    assert "cannot connect" in scratch.status_reason
    assert str(scratch.port) in scratch.status_reason
    down_since = scratch.status_since
    failed = Snapshot.objects.filter(database=scratch).latest()
    assert failed.status == Snapshot.FAILED
    assert failed.error == scratch.status_reason
    # A gap in its charts: the failed collection is counted, nothing read.
    assert CounterDelta.objects.get(
        database=scratch, source="collection", period_start=failed.taken_at
    ).counters == {"failed": 1}
    alert = the_alert_of(scratch)
    assert alert is not None and alert.state == AlertState.FIRING
    assert "cannot connect" in alert.detail
    # The other target was collected in the same dispatch, and is up.
    other.refresh_from_db()
    assert other.status == MonitoredDatabase.UP
    assert Snapshot.objects.filter(database=other).count() == 2
    assert the_alert_of(other) is None

    # Down still: the same since, the same alert.
    dispatch(now=later + timedelta(minutes=1), sync=True)
    scratch.refresh_from_db()
    assert (scratch.status, scratch.status_since) == (
        MonitoredDatabase.DOWN,
        down_since,
    )
    assert the_alert_of(scratch).pk == alert.pk

    running.ensure_running()
    dispatch(now=later + timedelta(minutes=2), sync=True)
    scratch.refresh_from_db()
    assert scratch.status == MonitoredDatabase.UP, scratch.status_reason
    assert scratch.status_reason == "" and scratch.status_since > down_since
    assert the_alert_of(scratch) is None
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


def test_a_target_without_pg_stat_statements_is_down_with_how_to_fix_it(
    history_db, running, unreachable_rule
):
    name = f"nostatements_{uuid.uuid4().hex[:6]}"
    # template0 has no extension; template1 has pg_stat_statements here.
    on_target(running, f"CREATE DATABASE {name} TEMPLATE template0", "postgres")
    try:
        target = target_of(running, database=name)
        dispatch(sync=True)
        target.refresh_from_db()
        snapshot = Snapshot.objects.filter(database=target).latest()
    finally:
        on_target(running, f"DROP DATABASE {name} WITH (FORCE)", "postgres")
    # Only the statements are missing: the other sources set their baseline.
    assert snapshot.status == Snapshot.PARTIAL
    assert snapshot.missing == ["statement"]
    assert {"database", "bgwriter", "wal"} <= set(
        Baseline.objects.filter(database=target).values_list("source", flat=True)
    )
    assert target.status == MonitoredDatabase.DOWN
    assert "CREATE EXTENSION pg_stat_statements" in target.status_reason
    # The console's own repair command does nothing for a target.
    assert "syncstatviews" not in target.status_reason
    assert the_alert_of(target) is not None


def test_a_target_that_times_out_is_down_and_comes_back(history_db, running):
    target = target_of(running)
    assert collect(target).down_reason is None
    # A session on the target holds the catalog the extension check reads.
    holder = psycopg.connect(running.url())
    try:
        holder.execute("LOCK TABLE pg_catalog.pg_extension IN ACCESS EXCLUSIVE MODE")
        outcome = collect(target)
    finally:
        holder.close()
    assert outcome.snapshot.status == Snapshot.PARTIAL
    assert "statement" in outcome.snapshot.missing
    assert "lock timeout" in outcome.down_reason
    # The sources that did not wait were stored.
    assert "database" in outcome.stored
    assert collect(target).down_reason is None


@pytest.mark.slow
def test_benchfleet_measures_with_a_real_cluster_and_removes_what_it_made(
    history_db, target_connections
):
    out = io.StringIO()
    call_command(
        "benchfleet",
        *("--targets", "3", "--silent", "1", "--workers", "2", "--statements", "2"),
        stdout=out,
    )
    text = out.getvalue()
    assert "first collection (texts, baselines) of 3 targets" in text
    # Every target queued by the dispatcher and collected by the cluster;
    # the one that never answers failed after its connect timeout.
    assert "4 targets queued, 3 answering ones collected (0 failed)" in text
    assert "1 silent targets collected (1 failed" in text
    assert "| 2 | 3 (0 failed) |" in text and "load average" in text
    assert not MonitoredDatabase.objects.filter(name__startswith="benchfleet-").exists()
    assert not Task.objects.filter(name__startswith="collect benchfleet-").exists()
    assert not OrmQ.objects.exists()


@pytest.mark.parametrize(
    "arguments",
    [
        ["--workers", "x"],
        ["--workers", "0"],
        ["--targets", "0"],
        ["--statements", "0"],
        ["--silent", "21"],
    ],
)
def test_benchfleet_refuses_bad_arguments(history_db, arguments):
    with pytest.raises(CommandError):
        call_command("benchfleet", *arguments, stdout=io.StringIO())


def test_benchhistory_collects_this_database_as_a_target(
    history_db, target_connections
):
    out = io.StringIO()
    call_command(
        "benchhistory",
        *("--statements", "30", "--collections", "2", "--as-target"),
        stdout=out,
    )
    text = out.getvalue()
    assert "rows stored per collection" in text and "failed" not in text
    assert text.count("snapshot") == 3 and " ok at " in text
    assert not MonitoredDatabase.objects.filter(name__contains="as-target").exists()


@pytest.fixture
def password_role(running):
    """Create a role that must log in with a SCRAM password; return its name."""
    role, password = "collect_pw", "right-secret-4711"
    hba = running.data_dir / "pg_hba.conf"
    original = hba.read_text()
    on_target(running, f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    on_target(running, f"GRANT pg_monitor TO {role}")
    # The first matching line wins: this role only, by password.
    hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n{original}")
    on_target(running, "SELECT pg_reload_conf()")
    yield role, password
    hba.write_text(original)
    on_target(running, "SELECT pg_reload_conf()")
    on_target(running, f"DROP ROLE {role}")


def test_a_refused_password_is_the_reason_and_never_shown(
    history_db, running, password_role, monkeypatch
):
    role, password = password_role
    variable = "PERFCONSOLE_PASSWORD_COLLECT_TEST"
    target = MonitoredDatabase.objects.create(
        name="scram-target",
        host="127.0.0.1",
        port=running.planned_port(),
        dbname="perfconsole",
        user=role,
        password_env=variable,
    )
    monkeypatch.setenv(variable, "wrong-secret-0815")
    outcome = collect(target)
    assert outcome.snapshot.status == Snapshot.FAILED
    assert "cannot connect" in outcome.down_reason
    assert "password authentication failed" in outcome.down_reason
    assert "wrong-secret-0815" not in outcome.down_reason
    assert "wrong-secret-0815" not in outcome.snapshot.error
    monkeypatch.setenv(variable, password)
    outcome = collect(target)
    assert outcome.snapshot.status == Snapshot.OK, outcome.snapshot.error
    assert outcome.down_reason is None


def test_collectstats_collects_a_target_by_name(history_db, running):
    target = target_of(running, name="by-hand")
    out = io.StringIO()
    call_command("collectstats", "--database", "by-hand", stdout=out)
    assert " ok at " in out.getvalue()
    target.refresh_from_db()
    assert target.status == MonitoredDatabase.UP
    assert Snapshot.objects.filter(database=target).count() == 1
    with pytest.raises(CommandError, match="No monitored database is named 'nope'"):
        call_command("collectstats", "--database", "nope", stdout=io.StringIO())


def test_a_target_of_another_major_version_is_collected(
    history_db, server_15, target_connections
):
    table = f"target15_{uuid.uuid4().hex[:8]}"
    on_target(server_15, f"CREATE TABLE {table} (id int)")
    target = target_of(server_15)
    assert collect(target).snapshot.status == Snapshot.OK
    with psycopg.connect(server_15.url(), autocommit=True) as conn:
        for _ in range(4):
            conn.execute(f"SELECT count(*) AS {table}_marker FROM {table}")
    second = collect(target).snapshot
    assert second.status == Snapshot.OK, second.error
    text = StatementText.objects.get(database=target, query__contains=f"{table}_marker")
    assert StatementDelta.objects.get(statement=text).calls == 4
    # PostgreSQL 15 has no pg_stat_io and no pg_stat_checkpointer.
    sources = set(
        Baseline.objects.filter(database=target).values_list("source", flat=True)
    )
    assert {"database", "bgwriter", "wal", "statements_info"} <= sources
    assert not {"io", "checkpointer"} & sources
