"""Load scenarios, run briefly against real data; none leaves data behind."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command

from perfconsole.benchmarks import load
from perfconsole.collaboration.demo import SCALES, load_demo
from perfconsole.collaboration.models import (
    COLLABORATION_TABLES,
    CollaborationActivity,
    StudyCollaborator,
)

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
    pgbench = result["pgbench"]
    assert pgbench.get("throughput_per_s") or pgbench.get("skipped"), pgbench
    if pgbench.get("throughput_per_s"):
        assert result["share_of_pgbench_pct"] > 0
    assert row_counts() == before


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
