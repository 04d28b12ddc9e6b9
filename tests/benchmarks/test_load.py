"""Load scenarios, run briefly against real data; none leaves data behind."""

import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command

from perfconsole.benchmarks import load
from perfconsole.benchmarks.queries import read_sql
from perfconsole.collaboration.demo import SCALES, load_demo
from perfconsole.collaboration.models import (
    COLLABORATION_TABLES,
    CollaborationActivity,
    OrganizationMember,
    StudyCollaborator,
)
from tests.conftest import forget_statements_of_this_database

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo():
    load_demo(SCALES["small"], seed=1)


def row_counts():
    from django.db import connection

    with connection.cursor() as cursor:
        counts = {}
        for table in COLLABORATION_TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
    return counts


def test_collaborations_mix_reads_and_writes_then_cleans_up(demo):
    before = row_counts()

    result = load.collaborations(1.5, workers=6, seed=2)

    assert result["errors"] == 0, result["error_samples"]
    assert result["operations"] > 0
    assert set(result["by_operation"]) >= {"permission_check", "feed_read"}
    assert result["created_and_removed"]["activity"] > 0
    assert result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]
    assert row_counts() == before
    assert not CollaborationActivity.objects.filter(
        details__has_key="loadtest"
    ).exists()
    assert not StudyCollaborator.objects.filter(
        permissions__has_key="loadtest"
    ).exists()


def test_lookups_report_paced_and_highest_rates(demo):
    before = row_counts()

    result = load.lookups(1.0, rate=100, workers=2, pgbench=True)

    paced, unthrottled = result["paced"], result["unthrottled"]
    assert paced["errors"] == unthrottled["errors"] == 0
    # Paced at 100/s for a second: about 100, never far above the target.
    assert 50 <= paced["operations"] <= 110
    assert unthrottled["operations"] > 0
    pipeline = result["pipeline"]
    assert pipeline["errors"] == 0, pipeline["error_samples"]
    # Whole batches of 50, every one answered with rows.
    assert pipeline["operations"] > 0
    assert pipeline["operations"] % 50 == 0
    assert pipeline["rows"] > 0
    assert result["highest_per_s"] >= pipeline["throughput_per_s"]
    for key in ("pgbench", "pgbench_pipelined"):
        pgbench = result[key]
        assert pgbench.get("throughput_per_s") or pgbench.get("skipped"), pgbench
        if pgbench.get("throughput_per_s"):
            assert result[f"share_of_{key}_pct"] > 0
    if result["pgbench"].get("throughput_per_s"):
        assert result["share_goal_met"] is (result["share_of_pgbench_pct"] >= 50)
    assert row_counts() == before


def lookup_calls(cursor):
    """Return how many times this database ran the load's member lookup."""
    cursor.execute(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database"
        "               WHERE datname = current_database())"
        " AND query LIKE %s",
        ["%FROM organization_members AS m%WHERE m.user_id = $1%"],
    )
    return cursor.fetchone()[0]


def test_pipelined_lookups_run_on_the_server_and_read_every_row(demo):
    from django.db import connection

    user = OrganizationMember.objects.values_list("user_id", flat=True).first()
    memberships = OrganizationMember.objects.filter(user_id=user).count()
    with connection.cursor() as cursor:
        forget_statements_of_this_database(cursor)
    tally = load.Tally()

    figures = load._pipeline_phase(
        read_sql("lookup_load_v1"), [user], 0.5, 2, 1, 10, tally
    )

    assert figures["errors"] == 0, figures["error_samples"]
    assert figures["operations"] > 0
    assert figures["operations"] == 10 * len(tally.latencies)
    # Every lookup of every batch was answered and read.
    assert figures["rows"] == figures["operations"] * memberships
    with connection.cursor() as cursor:
        assert lookup_calls(cursor) >= figures["operations"]


def pool_connections():
    """Return how many server connections the users' pool still holds.

    A backend leaves pg_stat_activity a moment after its client hung up:
    wait up to two seconds for the closed pool's to go.
    """
    from django.db import connection

    deadline = time.monotonic() + 2
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = %s AND datname = current_database()",
                [load.USERS_APPLICATION],
            )
            count = cursor.fetchone()[0]
        if count == 0 or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def test_users_share_the_pool_and_close_it(demo):
    before = row_counts()

    result = load.users(
        1.5, count=40, pool_min=2, pool_max=4, pool_timeout=5, think=0.05
    )

    assert result["errors"] == 0, result["error_samples"]
    visits = result["visits"]["operations"]
    assert visits > 40
    # Each visit: one wait for a connection, then its three reads.
    assert result["pool_wait"]["operations"] == visits
    assert result["queries"]["operations"] == 3 * visits
    assert {
        name: figures["count"]
        for name, figures in result["queries"]["by_operation"].items()
    } == {"member_lookup": visits, "permission_check": visits, "feed_page": visits}
    # The server ran each of them once per visit (pg_stat_statements).
    assert {name: figures["calls"] for name, figures in result["server"].items()} == {
        "member_lookup": visits,
        "permission_check": visits,
        "feed_page": visits,
    }
    assert all(figures["mean_ms"] > 0 for figures in result["server"].values()), result[
        "server"
    ]
    assert 2 <= result["pool"]["largest_size"] <= 4
    assert result["pool"]["requests"] == visits
    assert result["pool"]["requests_timed_out"] == 0
    assert pool_connections() == 0
    assert row_counts() == before


def test_users_queue_for_a_single_connection(demo):
    result = load.users(1.0, count=8, pool_min=1, pool_max=1, think=0)

    assert result["errors"] == 0, result["error_samples"]
    assert result["pool"]["largest_size"] == 1
    assert result["pool"]["requests_queued"] > 0
    assert result["pool_wait"]["p95_ms"] > 0
    assert result["wait_share_pct"] > 0


def test_users_count_a_pool_timeout_as_an_error(demo):
    # Six users without think time on one connection, each allowed to wait a
    # millisecond for it: a visit takes longer, so the pool times them out,
    # and each timeout is an error.
    result = load.users(
        0.5, count=6, pool_min=1, pool_max=1, pool_timeout=0.001, think=0
    )

    assert result["errors"] > 0
    assert result["pool"]["requests_timed_out"] == result["errors"]
    assert "couldn't get a connection" in result["error_samples"][0]
    # Those that got the connection went on with their visits.
    assert result["visits"]["operations"] > 0
    assert pool_connections() == 0


def test_users_command_reports_queries_and_pool_waits(demo, tmp_path):
    out = tmp_path / "users.json"

    call_command(
        "loadtest",
        "users",
        duration=1,
        users=5,
        pool_min=1,
        pool_max=2,
        think=0.05,
        json_file=str(out),
    )

    import json

    result = json.loads(out.read_text())
    assert result["scenario"] == "users"
    assert result["errors"] == 0
    assert result["users"] == 5
    assert set(result) >= {"queries", "pool_wait", "visits", "pool"}


def test_dashboard_signs_in_over_http_and_removes_its_user(demo, live_server, settings):
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
    # The suite runs with production settings: HTTPS comes from a proxy, which
    # the console trusts only when configured to (BEHIND_PROXY).
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    sessions = Session.objects.count()

    result = load.dashboard(
        2.5, base_url=live_server.url, per_minute=120, behind_proxy=True
    )

    assert result["errors"] == 0, result["error_samples"]
    assert result["operations"] >= 4
    assert set(result["statuses"]) == {200}
    assert (
        not get_user_model().objects.filter(username__startswith="loadtest-").exists()
    )
    assert Session.objects.count() == sessions


@pytest.mark.parametrize(
    "url, message",
    [("http://127.0.0.1:9", "cannot reach"), ("ftp://example", "not an http")],
)
def test_dashboard_says_when_it_cannot_sign_in(url, message):
    with pytest.raises(CommandError, match=message):
        call_command("loadtest", "dashboard", duration=1, url=url)
    assert (
        not get_user_model().objects.filter(username__startswith="loadtest-").exists()
    )


@pytest.mark.parametrize(
    "options",
    [{"duration": 0}, {"duration": 99999}, {"workers": 0}, {"rate": -1}],
)
def test_loadtest_refuses_bad_options(options):
    with pytest.raises(CommandError):
        call_command("loadtest", "lookups", **options)


def test_loadtest_command_writes_json(demo, tmp_path):
    out = tmp_path / "load.json"

    call_command(
        "loadtest",
        "collaborations",
        duration=1,
        workers=3,
        json_file=str(out),
    )

    import json

    result = json.loads(out.read_text())
    assert result["scenario"] == "collaborations"
    assert result["errors"] == 0
