"""Replication read from a real primary and its streaming standby.

The servers (tests/replication_servers.py) run for the whole session; a test
that pauses replay resumes it, a test that creates a slot drops it.
"""

import importlib
import re
import time
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.utils import timezone

from perfconsole.alerts.evaluation import evaluate_alerts
from perfconsole.alerts.metrics import Target
from perfconsole.alerts.models import Alert, AlertRule, AlertState
from perfconsole.history.collector import collect, console_database
from perfconsole.history.connections import connection_alias
from perfconsole.history.dashboard import dashboard_charts
from perfconsole.history.models import CounterDelta
from perfconsole.replication import fleet, statistics

STANDBY = "perfconsole_test_standby"
PAGE = "/admin/replication/replication/"
INDEX_PAGE = "/admin/monitoring/indexusage/"
FLEET_PAGE = "/admin/history/monitoreddatabase/fleet/"
MB = 1024 * 1024
replication_rules = importlib.import_module(
    "perfconsole.alerts.migrations.0005_replication_rules"
)


def write_wal(conn, megabytes):
    """Write about that much WAL on the primary (a table of its own)."""
    conn.execute("CREATE TABLE IF NOT EXISTS wal_filler (v text)")
    conn.execute(
        "INSERT INTO wal_filler SELECT repeat('x', 1000) FROM generate_series(1, %s)",
        [megabytes * 1000],
    )


def only_rule(metric, threshold):
    """Seed the replication rules, keep one enabled with a test threshold."""
    replication_rules.seed_rules(apps, None)
    rule = AlertRule.objects.get(metric=metric)
    rule.threshold = threshold
    rule.save()
    AlertRule.objects.exclude(pk=rule.pk).update(enabled=False)
    return rule


def wait_until(condition, what, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.2)


# -- both sides -----------------------------------------------------------------


def test_the_primary_lists_its_standby_streaming(targets):
    primary, _standby = targets
    alias = connection_alias(primary)
    # replay_lsn stays NULL until the standby's first status report (every
    # wal_receiver_status_interval); on 15 in CI the test once came first.
    wait_until(
        lambda: any(
            sender["replay_behind_bytes"] is not None
            for sender in statistics.senders(alias)
        ),
        "the standby's first status report",
    )
    (sender,) = statistics.senders(alias)
    assert sender["application_name"] == STANDBY
    assert sender["client"] == "127.0.0.1"
    assert (sender["state"], sender["sync_state"]) == ("streaming", "async")
    assert sender["replay_behind_bytes"] >= 0
    assert statistics.receiver(connection_alias(primary))["in_recovery"] is False


def test_the_standby_shows_its_replay_side(targets, replication_pair):
    _primary, standby = targets
    replication_pair.wait_until_replayed()
    alias = connection_alias(standby)
    receiver = statistics.receiver(alias)
    assert receiver["in_recovery"] is True
    assert receiver["receiver_status"] == "streaming"
    assert receiver["sender_port"] == replication_pair.primary_port
    assert receiver["replay_pause_state"] == "not paused"
    # Everything received is replayed: no delay, however old the last commit
    # (the primary may have sent a record since: wait for its replay).
    wait_until(
        lambda: statistics.receiver(alias)["replay_delay_s"] == 0,
        "no replay delay",
    )
    conflicts = {row["datname"]: row for row in statistics.conflicts(alias)}
    assert conflicts["perfconsole"]["confl_snapshot"] == 0
    assert statistics.senders(alias) == []


def test_a_paused_replay_lags_and_fires_the_lag_alert(
    targets, replication_pair, paused_replay
):
    primary, standby = targets
    rule = only_rule("replication_lag_bytes", threshold=1 * MB)
    with replication_pair.connect_primary() as conn:
        wait_until(
            lambda: (
                paused_replay.execute(
                    "SELECT pg_get_wal_replay_pause_state()"
                ).fetchone()[0]
                == "paused"
            ),
            "replay to pause",
        )
        before = statistics.senders(connection_alias(primary))[0]
        write_wal(conn, 2)
    after = statistics.senders(connection_alias(primary))[0]
    assert after["replay_behind_bytes"] > before["replay_behind_bytes"] + 2 * MB

    summary = evaluate_alerts()
    (alert,) = Alert.objects.filter(rule=rule, state=AlertState.FIRING)
    assert alert in summary.fired
    assert alert.subject == f"scratch primary → {STANDBY} (127.0.0.1)"
    assert alert.value > 2 * MB

    time.sleep(1.1)
    receiver = statistics.receiver(connection_alias(standby))
    assert receiver["replay_pause_state"] == "paused"
    assert receiver["replay_behind_bytes"] > 0
    assert receiver["replay_delay_s"] >= 1
    on_standby = Target(standby, connection_alias(standby))
    delays = {subject: value for subject, value, _ in fleet.lag_seconds(on_standby)}
    assert delays["scratch standby (replay delay)"] >= 1

    paused_replay.execute("SELECT pg_wal_replay_resume()")
    replication_pair.wait_until_replayed()
    wait_until(
        lambda: (
            statistics.senders(connection_alias(primary))[0]["replay_behind_bytes"] < MB
        ),
        "the primary to see the standby caught up",
    )
    summary = evaluate_alerts()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED
    assert alert in summary.resolved


def test_an_inactive_slot_keeping_wal_fires_the_slot_alert(targets, replication_pair):
    alias = connection_alias(targets[0])

    def idle_slot():
        (slot,) = [s for s in statistics.slots(alias) if s["slot_name"] == "idle"]
        return slot

    with replication_pair.connect_primary() as conn:
        conn.execute("SELECT pg_create_physical_replication_slot('idle', true)")
        try:
            # A new slot keeps the WAL since the last checkpoint already:
            # the rule's threshold is above that, only the writes pass it.
            before = idle_slot()["retained_bytes"]
            rule = only_rule("inactive_slot_bytes", threshold=before + 1 * MB)
            evaluate_alerts()
            assert not Alert.objects.filter(rule=rule).exists()
            write_wal(conn, 2)
            slot = idle_slot()
            assert slot["active"] is False
            assert slot["retained_bytes"] > before + 2 * MB
            evaluate_alerts()
            (alert,) = Alert.objects.filter(rule=rule, state=AlertState.FIRING)
            assert alert.subject == "scratch primary: slot idle"
            assert alert.value > before + 2 * MB
        finally:
            conn.execute("SELECT pg_drop_replication_slot('idle')")
    evaluate_alerts()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


def test_a_rule_leaves_its_alerts_when_a_target_cannot_be_read(
    targets, replication_pair
):
    """A standby that is down resolves nothing: its lag is unknown, not zero.

    Nor does it stop the rule: the targets that answer are judged.
    """
    from tests.replication.conftest import target_row

    rule = only_rule("replication_lag_s", threshold=0)
    gone = target_row("gone standby", 9, role="standby", primary=targets[0])
    now = timezone.now()
    kept = Alert.objects.create(
        rule=rule,
        database=gone,
        subject="gone standby (replay delay)",
        value=30,
        first_seen=now,
        last_seen=now,
    )
    summary = evaluate_alerts()
    (unread,) = summary.unread
    assert unread.startswith("gone standby: cannot connect")
    assert not summary.errors
    assert list(Alert.objects.filter(rule=rule, database=gone)) == [kept]
    kept.refresh_from_db()
    assert (kept.state, kept.last_seen) == (AlertState.FIRING, now)


def test_a_late_or_paused_standby_is_lagging(targets, replication_pair, paused_replay):
    primary, standby = targets
    replication_rules.seed_rules(apps, None)
    alias = connection_alias(standby)
    assert fleet.lag_reason(connection_alias(primary)) is None
    wait_until(
        lambda: statistics.is_paused(statistics.receiver(alias)), "replay to pause"
    )
    # Paused, within the seeded thresholds (5 min, 256 MB).
    assert fleet.lag_reason(alias) == "replay paused"
    with replication_pair.connect_primary() as conn:
        write_wal(conn, 1)
    wait_until(
        lambda: (statistics.receiver(alias)["replay_delay_s"] or 0) > 1,
        "a replay delay of a second",
    )
    rules = AlertRule.objects.filter(metric__startswith="replication_lag")
    rules.filter(metric="replication_lag_s").update(threshold=1)
    assert re.fullmatch(r"replay \d+ s behind, replay paused", fleet.lag_reason(alias))
    rules.filter(metric="replication_lag_s").update(enabled=False)
    rules.filter(metric="replication_lag_bytes").update(threshold=1)
    assert re.fullmatch(
        r"[\d,]+ bytes received and not replayed, replay paused",
        fleet.lag_reason(alias),
    )
    paused_replay.execute("SELECT pg_wal_replay_resume()")
    replication_pair.wait_until_replayed()
    wait_until(lambda: fleet.lag_reason(alias) is None, "no lag")


def test_the_fleet_overview_shows_a_paused_standby_lagging(
    admin_client, targets, replication_pair, paused_replay
):
    _primary, standby = targets
    alias = connection_alias(standby)
    wait_until(
        lambda: statistics.is_paused(statistics.receiver(alias)), "replay to pause"
    )
    page = admin_client.get(FLEET_PAGE)
    assert page.status_code == 200
    text = page.content.decode()
    (standby_row,) = [row for row in text.split("<tr") if "scratch standby" in row]
    assert "lagging" in standby_row and "replay paused" in standby_row
    (primary_row,) = [row for row in text.split("<tr") if "scratch primary" in row]
    assert "lagging" not in primary_row


def test_lag_alerts_belong_to_their_targets_while_another_is_down(
    targets, replication_pair, paused_replay
):
    """The primary's view of its standby is the primary's alert, the standby's
    own replay delay the standby's; a target that refuses stops neither."""
    from tests.replication.conftest import target_row

    primary, standby = targets
    replication_rules.seed_rules(apps, None)
    lag_rules = ["replication_lag_bytes", "replication_lag_s"]
    AlertRule.objects.exclude(metric__in=lag_rules).update(enabled=False)
    AlertRule.objects.filter(metric="replication_lag_bytes").update(threshold=MB)
    AlertRule.objects.filter(metric="replication_lag_s").update(threshold=1)
    refusing = target_row("refusing server", 9)
    alias = connection_alias(standby)
    wait_until(
        lambda: statistics.is_paused(statistics.receiver(alias)), "replay to pause"
    )
    with replication_pair.connect_primary() as conn:
        write_wal(conn, 2)
    wait_until(
        lambda: (statistics.receiver(alias)["replay_delay_s"] or 0) > 1,
        "a replay delay over a second",
    )

    summary = evaluate_alerts()

    (unread,) = summary.unread
    assert unread.startswith("refusing server: cannot connect")
    lag = Alert.objects.get(rule__metric="replication_lag_bytes")
    assert (lag.database, lag.subject) == (
        primary,
        f"scratch primary → {STANDBY} (127.0.0.1)",
    )
    assert lag.state == AlertState.FIRING and lag.value > 2 * MB
    delay = Alert.objects.get(
        rule__metric="replication_lag_s", subject="scratch standby (replay delay)"
    )
    assert delay.database == standby and delay.state == AlertState.FIRING
    assert not Alert.objects.filter(database=refusing).exists()


def test_a_target_found_down_is_not_tried(targets, replication_pair):
    """The last collection's verdict stands: a down target costs no connect."""
    from tests.replication.conftest import target_row

    only_rule("replication_lag_bytes", threshold=0)
    # Reachable, but marked down: reading it would succeed.
    target_row(
        "marked down",
        replication_pair.primary_port,
        status="down",
        status_reason="connection refused",
    )
    summary = evaluate_alerts()
    (error,) = summary.unread
    assert error.endswith("marked down is down: connection refused")
    assert not summary.errors


# -- history ---------------------------------------------------------------------


def test_lag_is_collected_into_the_history_and_charted(
    transactional_db, targets, replication_pair, paused_replay
):
    """Transactional: a collection stages a target's rows in temporary
    tables dropped at its commit."""
    primary, standby = targets
    with replication_pair.connect_primary() as conn:
        write_wal(conn, 2)
    for target in (primary, standby):
        outcome = collect(target)
        assert "replication" not in outcome.snapshot.missing, outcome.describe()
    sent = CounterDelta.objects.get(
        database=primary, source="replication", key=f"standby:{STANDBY} 127.0.0.1"
    )
    assert sent.gauges["replay_behind_bytes"] > 2 * MB
    replay = CounterDelta.objects.get(
        database=standby, source="replication", key="replay"
    )
    assert replay.gauges["paused"] == 1
    assert replay.gauges["behind_bytes"] > 0

    now = timezone.now()
    data = dashboard_charts(
        primary, now - timedelta(hours=1), now + timedelta(minutes=1)
    )
    (chart,) = [c for c in data["charts"] if c["id"] == "replication_bytes"]
    (line,) = [
        s for s in chart["series"] if s["label"] == f"{STANDBY} 127.0.0.1 replay behind"
    ]
    assert max(v for v in line["values"] if v is not None) > 2 * MB
    data = dashboard_charts(
        standby, now - timedelta(hours=1), now + timedelta(minutes=1)
    )
    (chart,) = [c for c in data["charts"] if c["id"] == "replication_bytes"]
    assert [s["label"] for s in chart["series"]] == ["received, not replayed"]


# -- unused indexes -------------------------------------------------------------


def scan_on_standby(replication_pair):
    """Create a table and index on the primary; scan the index on the standby."""
    create_standby_reads(replication_pair)
    scan_standby_reads(replication_pair)


def create_standby_reads(replication_pair):
    """Create a table with two indexes on the primary; wait for the standby."""
    with replication_pair.connect_primary() as conn:
        conn.execute("DROP TABLE IF EXISTS standby_reads")
        conn.execute(
            "CREATE TABLE standby_reads AS"
            " SELECT g AS id, g % 100 AS v FROM generate_series(1, 20000) g"
        )
        conn.execute("CREATE INDEX standby_reads_v ON standby_reads (v)")
        # Scanned nowhere: unused on every server.
        conn.execute("CREATE INDEX standby_reads_id ON standby_reads (id)")
    replication_pair.wait_until_replayed()


def scan_standby_reads(replication_pair):
    """Scan standby_reads_v on the standby, and only there."""
    with replication_pair.connect_standby() as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")
        conn.execute("SELECT count(*) FROM standby_reads WHERE v = 7").fetchone()
        # The scan reaches pg_stat_user_indexes once the session reports it.
        conn.execute("SELECT pg_stat_force_next_flush()")


def test_an_index_scanned_only_on_the_standby_counts_there(targets, replication_pair):
    primary, _standby = targets
    scan_on_standby(replication_pair)
    subject = "public.standby_reads_v"
    with replication_pair.connect_primary() as conn:
        (here,) = conn.execute(
            "SELECT idx_scan FROM pg_stat_user_indexes"
            " WHERE indexrelname = 'standby_reads_v'"
        ).fetchone()
    assert here == 0
    scans = fleet.standby_index_scans(primary, [subject])
    assert scans.of(subject) >= 1
    assert scans.counted == ["scratch standby"]
    assert scans.not_counted == []
    assert (
        scans.servers("scratch primary")
        == "Scans counted on scratch primary, scratch standby"
    )


def test_the_index_usage_page_leaves_out_what_the_standby_scanned(
    admin_client, targets, replication_pair
):
    primary, _standby = targets
    scan_on_standby(replication_pair)
    page = admin_client.get(
        INDEX_PAGE, {"target": primary.pk, "unused": "on"}, follow=True
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "standby_reads_id" in text
    assert "standby_reads_v" not in text
    assert (
        "Scans counted on scratch primary, scratch standby: an index one of them "
        "scanned is not listed." in text
    )
    # Without the filter both are listed, each with this server's scans.
    page = admin_client.get(INDEX_PAGE)
    assert "standby_reads_v" in page.content.decode()


def test_standby_sums_never_write_in_a_read_only_transaction(admin_client, settings):
    """Before the console's row exists (a flushed test database) nothing is
    summed, and nothing creates the row inside the pages' read-only reads."""
    from perfconsole.health.checks import check_unused_indexes
    from perfconsole.history.models import MonitoredDatabase

    settings.HEALTH_THRESHOLDS = {"unused_index_min_bytes": 0}
    MonitoredDatabase.objects.filter(is_console_database=True).delete()
    page = admin_client.get(INDEX_PAGE, {"unused": "on"})
    assert page.status_code == 200
    assert 'id="standby-scans"' not in page.content.decode()
    assert "Scans counted on" not in check_unused_indexes().summary


def test_the_indexes_over_a_window_count_the_standbys_scans(
    transactional_db, admin_client, targets, replication_pair, settings
):
    """Transactional: a collection stages a target's rows in temporary
    tables dropped at its commit."""
    primary, standby = targets
    create_standby_reads(replication_pair)
    for target in (primary, standby):
        collect(target)  # the baselines
    scan_standby_reads(replication_pair)
    for target in (primary, standby):
        collect(target)
    page = admin_client.get(
        INDEX_PAGE,
        {"target": primary.pk, "window": "1h", "unused": "on"},
        follow=True,
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "standby_reads_id" in text
    assert "standby_reads_v" not in text


def test_a_stopped_standby_is_named_not_counted(targets, replication_pair):
    primary, _standby = targets
    subject = "public.standby_reads_v"
    replication_pair.stop_standby()
    try:
        scans = fleet.standby_index_scans(primary, [subject])
    finally:
        replication_pair.start_standby()
    assert scans.counted == []
    ((name, reason),) = scans.not_counted
    assert name == "scratch standby"
    assert "could not be reached" in reason
    assert fleet.standby_index_scans(primary, [subject]).counted == [name]


@pytest.fixture
def console_index(db, settings):
    """An index of the console's database that no query there scans."""
    from django.db import connection

    settings.HEALTH_THRESHOLDS = {"unused_index_min_bytes": 0}
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE standby_reads AS"
            " SELECT g AS id, g % 100 AS v FROM generate_series(1, 2000) g"
        )
        cursor.execute("CREATE INDEX standby_reads_v ON standby_reads (v)")
    return "public.standby_reads_v"


def unused_subjects(result):
    return {row["subject"] for row in result.rows}


def test_the_unused_index_check_sums_the_standbys_scans(
    targets, replication_pair, settings
):
    """The check judges the scratch primary; its standby scanned one index."""
    from perfconsole.health.checks import check_unused_indexes
    from perfconsole.health.registry import checking

    primary, _standby = targets
    settings.HEALTH_THRESHOLDS = {"unused_index_min_bytes": 0}
    scan_on_standby(replication_pair)
    with checking(connection_alias(primary), primary):
        result = check_unused_indexes()
    unused = unused_subjects(result)
    assert "public.standby_reads_id" in unused
    assert "public.standby_reads_v" not in unused
    assert "Scans counted on scratch primary, scratch standby." in result.summary


def test_a_standby_that_cannot_be_read_is_named_and_not_counted(console_index):
    from perfconsole.health.checks import KEEP, check_unused_indexes
    from tests.replication.conftest import target_row

    # Port 9 (discard): nothing listens there, the connection is refused.
    target_row("gone standby", 9, role="standby", primary=console_database())
    result = check_unused_indexes()
    (row,) = [row for row in result.rows if row["subject"] == console_index]
    assert (
        row[KEEP] == "may be scanned on the standby gone standby, which was not counted"
    )
    assert "standby gone standby not counted (" in result.summary
    assert f"DROP INDEX CONCURRENTLY {console_index}" not in "\n".join(result.fix_sql)


# -- the page -------------------------------------------------------------------


def test_the_page_shows_both_sides(admin_client, targets, replication_pair):
    primary, standby = targets
    page = admin_client.get(PAGE, {"target": primary.pk}, follow=True)
    assert page.status_code == 200
    text = page.content.decode()
    assert STANDBY in text and "streaming" in text
    assert "is not in recovery" in text

    page = admin_client.get(PAGE, {"target": standby.pk}, follow=True)
    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="replay-state">not paused<' in text
    assert 'id="replay-delay">' in text
    assert "This server sends WAL to no standby." in text


def test_the_page_defaults_to_the_console_database(admin_client):
    page = admin_client.get(PAGE)
    assert page.status_code == 200
    assert (
        f'id="replication-target">{console_database().name}<' in page.content.decode()
    )


def test_a_target_that_is_down_is_said_so(admin_client, db):
    from tests.replication.conftest import target_row

    gone = target_row("gone <b>server</b>", 9)
    page = admin_client.get(PAGE, {"target": gone.pk}, follow=True)
    assert page.status_code == 200
    text = page.content.decode()
    assert "could not be reached" in text
    assert "gone &lt;b&gt;server&lt;/b&gt;" in text and "<b>server" not in text


@pytest.mark.parametrize(
    "query",
    [
        "target=abc",
        "target=-1",
        "target=1.5",
        "target=",
        "target=%EF%BC%91",  # a full-width digit one
        "target=99999999999999999999999",
        "target=%3Cscript%3E",
    ],
)
def test_junk_target_parameters_answer_400(admin_client, query):
    page = admin_client.get(f"{PAGE}?{query}")
    assert page.status_code == 400
    text = page.content.decode()
    assert "must be the number of a monitored database" in text
    assert "<script>" not in text


def test_an_unknown_target_answers_400(admin_client):
    page = admin_client.get(PAGE, {"target": 987654321})
    assert page.status_code == 400
    assert "monitored database has the number 987654321" in page.content.decode()


def test_the_page_needs_its_permission(client, staff_user):
    client.force_login(staff_user)
    assert client.get(PAGE).status_code == 403
    staff_user.user_permissions.add(Permission.objects.get(codename="view_replication"))
    client.force_login(staff_user)
    assert client.get(PAGE).status_code == 200
