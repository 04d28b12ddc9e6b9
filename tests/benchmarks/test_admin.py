"""The stored runs in the admin: list, detail with plans, comparison."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from perfconsole.benchmarks.models import BenchmarkResult, BenchmarkRun

pytestmark = pytest.mark.django_db

EVIL = "<script>alert('x')</script>"


def make_run(
    day, p95, indexes=("idx_collaboration_activity_timeline",), sql="SELECT 1"
):
    run = BenchmarkRun.objects.create(
        started_at=datetime(2026, 11, day, tzinfo=UTC),
        scale="small",
        database="perfconsole",
        server_version="18.1",
        server_version_num=180001,
        settings={"work_mem": "4096 kB"},
        row_counts={"collaboration_activity": 20000},
        iterations=5,
        compare=True,
        dropped=["DROP INDEX IF EXISTS idx_collaboration_activity_timeline"],
    )
    BenchmarkResult.objects.create(
        run=run,
        name="activity_feed",
        label="Activity feed",
        sql=sql,
        target_ms=25,
        goal_ms=2.5,
        p50_ms=p95 / 2,
        p95_ms=p95,
        p99_ms=p95,
        max_ms=p95,
        mean_ms=p95 / 2,
        client_p50_ms=1,
        client_p95_ms=1,
        client_p99_ms=1,
        rows=50,
        buffers_hit=4,
        buffers_read=0,
        indexes=list(indexes),
        seq_scan=False,
        passed=True,
        goal_met=True,
        plan={"Plan": {"Node Type": "Limit", "Filter": EVIL}},
        without={"p50_ms": 10, "p95_ms": 20, "plan": {"Plan": {"Node Type": EVIL}}},
        reduction_p50_pct=90,
        reduction_p95_pct=95,
    )
    return run


def test_run_list_counts_passed_queries(admin_client, django_assert_max_num_queries):
    for day in range(1, 6):
        make_run(day, 1.0)

    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:benchmarks_benchmarkrun_changelist"))

    assert response.status_code == 200
    assert response.content.decode().count("1/1 PASS") == 5


def test_run_detail_shows_figures_and_escaped_plans(admin_client):
    run = make_run(1, 1.5, sql=f"SELECT '{EVIL}'")

    response = admin_client.get(
        reverse("admin:benchmarks_benchmarkrun_change", args=[run.pk])
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert EVIL not in page
    assert "&lt;script&gt;" in page
    assert "idx_collaboration_activity_timeline" in page
    assert "1.5" in page and "work_mem" in page
    assert "Plan without the indexes" in page
    assert "90.0 % / 95.0 %" in page


def test_run_detail_says_when_a_reduction_does_not_apply(admin_client):
    run = make_run(1, 1.0, indexes=("team_productivity_analytics_organization_id_key",))

    page = admin_client.get(
        reverse("admin:benchmarks_benchmarkrun_change", args=[run.pk])
    ).content.decode()

    assert "n/a (no performance index in its plan)" in page
    assert "90.0 % / 95.0 %" not in page


def test_run_detail_of_a_missing_or_malformed_run(admin_client):
    missing = reverse("admin:benchmarks_benchmarkrun_change", args=[999])
    malformed = reverse("admin:benchmarks_benchmarkrun_change", args=["abc"])

    assert admin_client.get(missing).status_code == 404
    assert admin_client.get(malformed).status_code in (302, 404)


def test_compare_action_shows_two_runs_side_by_side(admin_client):
    first = make_run(1, 4.0)
    second = make_run(2, 1.0, indexes=("collaboration_activity_pkey",))

    response = admin_client.post(
        reverse("admin:benchmarks_benchmarkrun_changelist"),
        {"action": "compare_two_runs", "_selected_action": [second.pk, first.pk]},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:benchmarks_benchmarkrun_compare", args=[first.pk, second.pk]
    )
    page = admin_client.get(response["Location"]).content.decode()

    # p95 4.0 -> 1.0 ms: 75 % faster, and the plan changed its index.
    assert "75.0 %" in page
    assert "<strong>collaboration_activity_pkey</strong>" in page


def test_compare_action_needs_exactly_two_runs(admin_client):
    run = make_run(1, 1.0)

    response = admin_client.post(
        reverse("admin:benchmarks_benchmarkrun_changelist"),
        {"action": "compare_two_runs", "_selected_action": [run.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Select exactly two runs" in response.content.decode()


def test_compare_of_unknown_runs_is_not_found(admin_client):
    run = make_run(1, 1.0)
    url = reverse("admin:benchmarks_benchmarkrun_compare", args=[run.pk, 999])

    assert admin_client.get(url).status_code == 404


def test_a_run_compared_with_itself_says_it_is_the_same_run(admin_client):
    run = make_run(1, 1.0)
    url = reverse("admin:benchmarks_benchmarkrun_compare", args=[run.pk, run.pk])

    response = admin_client.get(url)

    assert response.status_code == 400
    page = response.content.decode()
    assert "the same run" in page
    assert "choose two different runs" in page
    # The admin's look, not a bare error.
    assert 'class="breadcrumbs"' in page


def test_staff_needs_the_view_permission(client, staff_user):
    run, other = make_run(1, 1.0), make_run(2, 1.0)
    client.force_login(staff_user)
    detail = reverse("admin:benchmarks_benchmarkrun_change", args=[run.pk])
    compare = reverse("admin:benchmarks_benchmarkrun_compare", args=[run.pk, other.pk])

    assert client.get(detail).status_code == 403
    assert client.get(compare).status_code == 403

    staff_user.user_permissions.add(
        Permission.objects.get(codename="view_benchmarkrun")
    )
    assert client.get(detail).status_code == 200
    assert client.get(compare).status_code == 200


def test_runs_cannot_be_added_or_changed_in_the_admin(admin_client):
    run = make_run(1, 1.0)

    assert (
        admin_client.get(reverse("admin:benchmarks_benchmarkrun_add")).status_code
        == 403
    )
    response = admin_client.post(
        reverse("admin:benchmarks_benchmarkrun_delete", args=[run.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert BenchmarkRun.objects.filter(pk=run.pk).exists()


def test_run_pages_read_settings_times_and_moments_as_a_person_reads_them(
    admin_client,
):
    run = make_run(1, 600.0969)
    run.settings = {
        "shared_buffers": "32768 8kB",
        "work_mem": "4096 kB",
        "random_page_cost": "1.1",
        "jit": "off",
    }
    run.save()
    other = make_run(2, 1.5)

    page = admin_client.get(
        reverse("admin:benchmarks_benchmarkrun_change", args=[run.pk])
    ).content.decode()

    assert "<th>shared_buffers</th><td>256MB</td>" in page
    assert "<th>work_mem</th><td>4MB</td>" in page
    assert "<th>random_page_cost</th><td>1.1</td>" in page
    assert "32768" not in page
    assert '<span title="600.0969 ms">600 ms</span>' in page
    assert "2026-11-01 00:00:00 UTC" in page
    assert '<td class="num">20,000</td>' in page  # row counts with separators

    compare = admin_client.get(
        reverse("admin:benchmarks_benchmarkrun_compare", args=[run.pk, other.pk])
    ).content.decode()
    assert "2026-11-01 00:00:00 UTC" in compare
    assert "2026-11-02 00:00:00 UTC" in compare
    assert '<span title="600.0969 ms">600 ms</span>' in compare
