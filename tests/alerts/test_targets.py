"""Alerts per target: each rule is judged on every enabled target, an alert
names its target, and a target that cannot be read keeps its alerts while the
others are judged. A scratch PostgreSQL server started here is a target."""

import uuid

import psycopg
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from perfconsole.alerts import metrics
from perfconsole.alerts.evaluation import evaluate_alerts
from perfconsole.alerts.models import Alert, AlertRule, AlertState
from perfconsole.embedded.server import SUPERUSER
from perfconsole.history.collector import console_database
from perfconsole.history.models import MonitoredDatabase
from tests.scratch_servers import start_scratch_server

from .conftest import PROBE_SCHEMA, create_large_table, run, table_stat, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = reverse("admin:alerts_alert_changelist")
SECOND_DATABASE = "second"


@pytest.fixture(scope="module")
def scratch_server(tmp_path_factory):
    """Start a PostgreSQL server of its own, with a second database."""
    server = start_scratch_server(tmp_path_factory.mktemp("alert_target"))
    with psycopg.connect(server.url(), autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [SECOND_DATABASE]
        ).fetchone():
            conn.execute(f"CREATE DATABASE {SECOND_DATABASE}")
    yield server
    server.stop()


@pytest.fixture
def scratch(scratch_server, target_connections):
    """Return the scratch server, started again if a test stopped it."""
    scratch_server.ensure_running()
    return scratch_server


def target_of(server, database="perfconsole"):
    """Create the monitored database of one database on the scratch server."""
    return MonitoredDatabase.objects.create(
        name=f"scratch-{database}-{uuid.uuid4().hex[:6]}",
        host="127.0.0.1",
        port=server.planned_port(),
        dbname=database,
        user=SUPERUSER,
    )


def dirty_table(server, table, database="perfconsole"):
    """Make a table of 3 000 rows with 2 500 dead ones on the scratch server."""
    with psycopg.connect(server.url(database), autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (id int) WITH (autovacuum_enabled = false)")
        conn.execute(f"INSERT INTO {table} SELECT generate_series(1, 3000)")
        conn.execute(f"DELETE FROM {table} WHERE id <= 2500")
        flush_and_wait(conn, table, lambda dead: dead >= 2500)


def vacuum_table(server, table, database="perfconsole"):
    """VACUUM a scratch table: its dead tuples are gone."""
    with psycopg.connect(server.url(database), autocommit=True) as conn:
        conn.execute(f"VACUUM {table}")
        flush_and_wait(conn, table, lambda dead: dead == 0)


def flush_and_wait(conn, table, check):
    """Wait until the table's dead tuple count, as others see it, passes check."""

    def dead():
        if conn.info.server_version >= 150000:
            conn.execute("SELECT pg_stat_force_next_flush()")
            conn.execute("SELECT 1")
        with psycopg.connect(conn.info.dsn, autocommit=True) as reader:
            return reader.execute(
                "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = %s",
                [table],
            ).fetchone()[0]

    wait_for(dead, check)


@pytest.fixture
def dead_rows_rule():
    """Return a dead tuples rule on one table name; every other rule is off."""
    table = f"dead_{uuid.uuid4().hex[:8]}"
    AlertRule.objects.update(enabled=False)
    return AlertRule.objects.create(
        name=f"Dead rows of {table}",
        metric="dead_tuples",
        comparison="gt",
        threshold=1000,
        tables=[table],
    )


def open_alerts(rule, database):
    return Alert.objects.filter(
        rule=rule,
        database=database,
        state__in=[AlertState.FIRING, AlertState.ACKNOWLEDGED],
    )


def test_a_rule_fires_on_a_targets_table_and_the_alert_names_that_target(
    scratch, dead_rows_rule, admin_client
):
    (table,) = dead_rows_rule.tables
    target = target_of(scratch)
    dirty_table(scratch, table)

    summary = evaluate_alerts()

    (alert,) = Alert.objects.filter(rule=dead_rows_rule)
    assert alert.database == target
    assert alert.subject == f"public.{table}"
    assert alert.value >= 2500 and alert.state == AlertState.FIRING
    assert alert in summary.fired
    # The console's own database has no such table: no alert of its own.
    assert not open_alerts(dead_rows_rule, console_database()).exists()
    assert str(alert).endswith(f"on {target.name}")

    # Its link opens the table's page on the target.
    tables_page = reverse("admin:monitoring_tableperformance_changelist")
    link = f"{tables_page}?schema=public&table={table}&console=on&target={target.pk}"
    escaped = link.replace("&", "&amp;")
    assert f'href="{escaped}"' in admin_client.get(CHANGELIST).content.decode()
    page = admin_client.get(link, follow=True)
    assert page.status_code == 200
    text = page.content.decode()
    assert f'<strong id="target-shown">{target.name}</strong>' in text
    # The table's row, read on the target (the console has no such table).
    assert f"<tr><td>public</td><td>{table}</td>" in text


def test_the_same_subject_on_two_targets_gives_two_alerts(scratch, dead_rows_rule):
    (table,) = dead_rows_rule.tables
    first = target_of(scratch)
    second = target_of(scratch, SECOND_DATABASE)
    dirty_table(scratch, table)
    dirty_table(scratch, table, SECOND_DATABASE)

    evaluate_alerts()
    summary = evaluate_alerts()

    alerts = Alert.objects.filter(rule=dead_rows_rule).order_by("database__name")
    assert [(a.database, a.subject) for a in alerts] == [
        (first, f"public.{table}"),
        (second, f"public.{table}"),
    ]
    assert len(summary.updated) == 2 and not summary.fired

    # Resolved on one target, still open on the other.
    vacuum_table(scratch, table, SECOND_DATABASE)
    summary = evaluate_alerts()
    assert [a.database for a in summary.resolved] == [second]
    assert open_alerts(dead_rows_rule, first).exists()
    assert not open_alerts(dead_rows_rule, second).exists()


def test_an_unreachable_target_keeps_its_alert_while_another_is_judged(
    scratch, dead_rows_rule, probe
):
    (table,) = dead_rows_rule.tables
    target = target_of(scratch)
    console = console_database()
    dirty_table(scratch, table)
    create_large_table(table, rows=3000)
    evaluate_alerts()
    (kept,) = open_alerts(dead_rows_rule, target)
    assert not open_alerts(dead_rows_rule, console).exists()
    seen = kept.last_seen

    scratch.stop()
    # The console's table gets its dead rows while the target is down.
    run(f"DELETE FROM {PROBE_SCHEMA}.{table} WHERE id <= 2500")
    wait_for(lambda: table_stat(table, "n_dead_tup"), lambda n: n >= 2500)
    summary = evaluate_alerts(now=timezone.now())

    (unread,) = summary.unread
    assert unread.startswith(f"{target.name}: cannot connect")
    (opened,) = open_alerts(dead_rows_rule, console)
    assert opened in summary.fired
    kept.refresh_from_db()
    assert (kept.state, kept.last_seen) == (AlertState.FIRING, seen)

    # Resolving the console's alert leaves the unreachable target's open.
    run(f"VACUUM {PROBE_SCHEMA}.{table}")
    wait_for(lambda: table_stat(table, "n_dead_tup"), lambda n: n == 0)
    summary = evaluate_alerts()
    assert summary.resolved == [opened]
    kept.refresh_from_db()
    assert (kept.state, kept.last_seen) == (AlertState.FIRING, seen)

    # Reachable again and clean: its alert resolves.
    scratch.ensure_running()
    vacuum_table(scratch, table)
    summary = evaluate_alerts()
    assert not summary.unread
    kept.refresh_from_db()
    assert kept.state == AlertState.RESOLVED


def test_a_target_down_at_its_last_collection_is_not_read(scratch, dead_rows_rule):
    (table,) = dead_rows_rule.tables
    target = target_of(scratch)
    dirty_table(scratch, table)
    evaluate_alerts()
    (kept,) = open_alerts(dead_rows_rule, target)
    vacuum_table(scratch, table)
    # Reachable and clean, but its collection found it down: nothing judged.
    MonitoredDatabase.objects.filter(pk=target.pk).update(
        status=MonitoredDatabase.DOWN, status_reason="connection refused"
    )

    summary = evaluate_alerts()

    assert summary.unread == [f"{target.name} is down: connection refused"]
    kept.refresh_from_db()
    assert kept.state == AlertState.FIRING


def alert_on(database, subject, metric="dead_tuples"):
    """Open an alert of a new rule on one target, as evaluation would."""
    now = timezone.now()
    rule, _ = AlertRule.objects.get_or_create(
        name=f"rule of {metric}",
        defaults={"metric": metric, "comparison": "gt", "threshold": 1},
    )
    return Alert.objects.create(
        rule=rule,
        database=database,
        subject=subject,
        value=5,
        first_seen=now,
        last_seen=now,
    )


def listed_subjects(response):
    assert response.status_code == 200
    text = response.content.decode()
    return sorted(s for s in ("public.on_console", "public.on_other") if s in text)


def test_the_changelist_shows_and_filters_by_target(admin_client, target_connections):
    console = console_database()
    other = MonitoredDatabase.objects.create(
        name="other-server", host="127.0.0.1", port=9, dbname="x", user="x"
    )
    alert_on(console, "public.on_console")
    on_other = alert_on(other, "public.on_other")

    response = admin_client.get(CHANGELIST)
    assert listed_subjects(response) == ["public.on_console", "public.on_other"]
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert '<span class="pc-status-warning">2 warning</span>' in index
    text = response.content.decode()
    assert '<span class="target-name">on other-server</span>' in text
    assert f"?on={other.pk}" in text, "the target filter lists the targets"
    assert listed_subjects(admin_client.get(f"{CHANGELIST}?on={other.pk}")) == [
        "public.on_other"
    ]
    assert listed_subjects(admin_client.get(f"{CHANGELIST}?on={console.pk}")) == [
        "public.on_console"
    ]

    # The target chosen in the switcher is the list's default; "all" lifts it.
    switched = admin_client.get(f"{CHANGELIST}?target={other.pk}", follow=True)
    assert switched.redirect_chain == [(CHANGELIST, 302)]
    assert listed_subjects(switched) == ["public.on_other"]
    # The admin index counts the alerts the list shows: the chosen target's.
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert '<span class="pc-status-warning">1 warning</span>' in index
    assert listed_subjects(admin_client.get(CHANGELIST)) == ["public.on_other"]
    assert listed_subjects(admin_client.get(f"{CHANGELIST}?on=all")) == [
        "public.on_console",
        "public.on_other",
    ]
    # Junk in the filter lists nothing, without an error.
    assert listed_subjects(admin_client.get(f"{CHANGELIST}?on=x%27")) == []

    page = admin_client.get(reverse("admin:alerts_alert_change", args=[on_other.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Target:" in text and "other-server" in text


def test_a_query_alert_opens_the_statement_on_its_target(admin_client, scratch):
    target = target_of(scratch)
    marker = f"alert_target_marker_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(scratch.url(), autocommit=True) as conn:
        conn.execute(f"SELECT pg_sleep(0.01) AS {marker}")
        (queryid,) = conn.execute(
            "SELECT queryid FROM pg_stat_statements WHERE query LIKE %s",
            [f"%{marker}%"],
        ).fetchone()
    alert = alert_on(target, str(queryid), metric="query_mean_time_ms")

    response = admin_client.get(reverse("admin:alerts_alert_query", args=[alert.pk]))

    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(reverse("admin:monitoring_querystat_changelist"))
    assert location.endswith(f"/?target={target.pk}")
    page = admin_client.get(location, follow=True)
    assert page.status_code == 200
    assert marker in page.content.decode()


def test_the_migration_gives_existing_alerts_their_target():
    """Alerts from before targets: the console's, or the unreachable target's."""
    console = console_database()
    other = MonitoredDatabase.objects.create(
        name="old-target", host="127.0.0.1", port=9, dbname="x", user="x"
    )
    table_rule = AlertRule.objects.create(
        name="old table rule", metric="dead_tuples", comparison="gt", threshold=1
    )
    unreachable = AlertRule.objects.create(
        name="old unreachable rule",
        metric="database_unreachable",
        comparison="gte",
        threshold=1,
    )
    call_command("migrate", "alerts", "0006", verbosity=0)
    try:
        for rule, subject in [
            (table_rule, "public.orders"),
            (unreachable, "old-target"),
            (unreachable, "a target removed since"),
        ]:
            run(
                "INSERT INTO alerts_alert (rule_id, subject, detail, value, state,"
                " first_seen, last_seen) VALUES (%s, %s, '', 1, 'firing', now(),"
                " now())",
                [rule.pk, subject],
            )
    finally:
        call_command("migrate", "alerts", verbosity=0)

    targets = dict(Alert.objects.values_list("subject", "database"))
    assert targets == {
        "public.orders": console.pk,
        "old-target": other.pk,
        "a target removed since": console.pk,
    }


def test_the_console_database_is_judged_even_when_its_collection_failed(
    dead_rows_rule, probe
):
    """The console runs on its database: a failed collection (a missing
    extension) does not stop its rules."""
    (table,) = dead_rows_rule.tables
    console = console_database()
    MonitoredDatabase.objects.filter(pk=console.pk).update(
        status=MonitoredDatabase.DOWN, status_reason="no pg_stat_statements"
    )
    create_large_table(table, rows=3000)
    run(f"DELETE FROM {PROBE_SCHEMA}.{table} WHERE id <= 2500")
    wait_for(lambda: table_stat(table, "n_dead_tup"), lambda n: n >= 2500)

    summary = evaluate_alerts()

    assert not summary.unread
    (alert,) = open_alerts(dead_rows_rule, console)
    assert alert.subject == f"{PROBE_SCHEMA}.{table}"


def test_view_refresh_rules_judge_the_console_database_only():
    """The console's own refreshes are not another target's."""
    other = MonitoredDatabase.objects.create(
        name="no views here", host="127.0.0.1", port=9, dbname="x", user="x"
    )
    rule = AlertRule.objects.create(
        name="refresh failed", metric="refresh_failed", comparison="gte", threshold=1
    )
    now = timezone.now()

    assert metrics.observe(rule, now, metrics.Target(other, "unused")) is None
    assert metrics.observe(rule, now, metrics.console_target()) is not None
