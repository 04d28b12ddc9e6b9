"""The benchmark command on real (small) data: fields, plans, storage."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from perfconsole.benchmarks import plans
from perfconsole.benchmarks.models import BenchmarkRun
from perfconsole.benchmarks.queries import QUERIES
from perfconsole.benchmarks.runner import ROLLUP_OFF
from perfconsole.collaboration.performance import INDEXES, verify
from perfconsole.core.timing import percentile

REQUIRED = ["name", "target_ms", "p50_ms", "p95_ms", "p99_ms", "indexes", "seq_scan"]


def run_benchmark(tmp_path, **options):
    out = tmp_path / "bench.json"
    call_command("benchmark", iterations=4, json_file=str(out), **options)
    return json.loads(out.read_text())


def test_it_reports_every_query_with_plausible_fields(small_demo, tmp_path):
    document = run_benchmark(tmp_path)

    entries = {entry["name"]: entry for entry in document["queries"]}
    assert list(entries) == [query.name for query in QUERIES]
    for entry in entries.values():
        for key in [*REQUIRED, "passed"]:
            assert key in entry, (entry["name"], key)
        assert 0 < entry["p50_ms"] <= entry["p95_ms"] <= entry["p99_ms"]
        assert entry["p99_ms"] <= entry["max_ms"]
        assert entry["iterations"] == 4
        assert entry["client_p50_ms"] > 0
        assert entry["passed"] is (entry["p95_ms"] < entry["target_ms"])
        assert entry["plan"]["Plan"]["Node Type"]
    # Every analytics call is for an existing organization: one row each.
    assert entries["team_analytics_view"]["rows"] == 1
    assert entries["team_analytics_function"]["rows"] == 1
    # The plans name the seed's indexes where the queries are meant to use them.
    assert "idx_collaboration_activity_timeline" in entries["activity_feed"]["indexes"]
    assert (
        "idx_studies_organization_lookup"
        in (entries["organization_studies_by_status"]["indexes"])
    )
    # Indexes used inside SQL functions are found although EXPLAIN hides them
    # (the call itself is a Function Scan).
    assert "organizations_pkey" in entries["user_collaborative_studies"]["indexes"]
    assert document["run"]["scale"] == "small"
    assert document["run"]["compare"] is False
    assert "work_mem" in document["run"]["settings"]
    assert {goal["met"] for goal in document["goals"]} <= {True, False}


def test_it_stores_the_run_with_figures_and_plans(small_demo, tmp_path):
    document = run_benchmark(tmp_path, names=["activity_feed", "team_analytics_view"])

    run = BenchmarkRun.objects.get()
    assert run.scale == "small"
    assert run.server_version_num == connection.pg_version
    assert run.iterations == 4
    results = list(run.results.all())
    assert [result.name for result in results] == [
        "activity_feed",
        "team_analytics_view",
    ]
    assert results[0].p95_ms == document["queries"][0]["p95_ms"]
    assert results[0].plan["Plan"] == document["queries"][0]["plan"]["Plan"]
    assert results[0].without is None
    assert results[0].p95_large_ms == document["queries"][0]["p95_large_ms"]
    assert results[0].seq_scan_count == 0


def test_it_reports_seq_scans_and_indexes_from_real_plans(small_demo):
    with connection.cursor() as cursor:
        # No index leads with role: the planner must read the whole table.
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM organization_members"
            " WHERE role = 'admin'"
        )
        scan = cursor.fetchone()[0][0]["Plan"]
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT role FROM study_collaborators"
            " WHERE study_id = (SELECT study_id FROM study_collaborators LIMIT 1)"
        )
        lookup = cursor.fetchone()[0][0]["Plan"]

    assert plans.seq_scanned(scan) == ["organization_members"]
    assert plans.indexes_used(scan) == []
    assert plans.seq_scanned(lookup) == ["study_collaborators"]
    assert any(
        name.startswith(("idx_study_", "study_")) for name in plans.indexes_used(lookup)
    )


def test_percentiles_interpolate_between_ranks():
    values = [float(n) for n in range(1, 101)]

    assert percentile(values, 0.5) == pytest.approx(50.5)
    assert percentile(values, 0.95) == pytest.approx(95.05)
    assert percentile([3.0], 0.99) == 3.0
    assert plans.reduction(100, 4) == 96.0
    assert plans.reduction(0, 4) is None


def rollup_state():
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM organization_activity_rollup_state")
        return cursor.fetchall()


@pytest.mark.django_db(transaction=True)
def test_compare_leaves_every_index_in_place(catalog, tmp_path):
    from perfconsole.collaboration.demo import SCALES, load_demo

    load_demo(SCALES["small"], seed=1)
    before = catalog()
    rollup_before = rollup_state()

    # --force: the test database may live on any server DATABASE_URL names.
    document = run_benchmark(tmp_path, compare=True, bare=True, force=True)

    assert catalog() == before
    # The rollup, switched off for the "without" phase, is back as it was.
    assert rollup_state() == rollup_before
    assert rollup_before[0][0] is not None
    assert ROLLUP_OFF in document["run"]["dropped"]
    assert all(finding.ok for finding in verify())
    dropped = document["run"]["dropped"]
    assert [spec.drop_sql() for spec in INDEXES] == dropped[:6]
    # --bare also took away the unique constraints the planner falls back on.
    assert any("study_collaborators_study_user_uniq" in line for line in dropped)
    for entry in document["queries"]:
        without = entry["without"]
        assert without["iterations"] == 4
        assert not {spec.name for spec in INDEXES} & set(without["indexes"])
        assert "reduction_p50_pct" in entry
    assert document["queries"][0]["without"]["seq_scan"] is True
    feed = document["queries"][2]
    # Four feed reads without the timeline index: one scan of the table each.
    assert feed["without"]["seq_scan_count"] >= 4
    assert feed["seq_scan_count"] == 0
    assert document["goals"][0]["goal"].startswith("sequential scans reduced")
    stored = BenchmarkRun.objects.get()
    assert stored.compare and stored.bare
    assert stored.results.filter(without__isnull=False).count() == len(QUERIES)


def test_compare_refuses_a_database_that_does_not_look_like_development(
    small_demo, settings
):
    settings.EMBEDDED_DATABASE = False
    settings.BENCHMARK_DEVELOPMENT_NAMES = r"^never-matches$"

    with pytest.raises(CommandError) as refused:
        call_command("benchmark", iterations=1, compare=True)

    assert "does not look like a development database" in str(refused.value)
    assert "ACCESS EXCLUSIVE" in str(refused.value)
    assert "--force" in str(refused.value)
    assert not BenchmarkRun.objects.exists()


def test_compare_runs_on_such_a_database_with_force(small_demo, settings, tmp_path):
    settings.EMBEDDED_DATABASE = False
    settings.BENCHMARK_DEVELOPMENT_NAMES = r"^never-matches$"

    document = run_benchmark(
        tmp_path, compare=True, force=True, names=["study_permission_check"]
    )

    assert document["queries"][0]["without"]["iterations"] == 4
    assert all(finding.ok for finding in verify())


def test_a_local_database_named_for_development_is_accepted(small_demo, settings):
    from perfconsole.benchmarks.safety import development_verdict

    settings.EMBEDDED_DATABASE = False
    settings.BENCHMARK_DEVELOPMENT_NAMES = r"test"
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(host(inet_server_addr()), 'socket')")
        if cursor.fetchone()[0] not in ("127.0.0.1", "::1", "socket"):
            pytest.skip("the test database is not on a local server")

    ok, reason = development_verdict()

    assert ok, reason
    assert connection.settings_dict["NAME"] in reason


@pytest.mark.parametrize(
    "options, message",
    [
        ({"iterations": 0}, "--iterations"),
        ({"bare": True}, "--bare only makes sense with --compare"),
        ({"warmup": -1}, "--warmup"),
    ],
)
def test_bad_options_are_refused(db, options, message):
    with pytest.raises(CommandError, match=message):
        call_command("benchmark", **options)


def test_it_says_what_to_do_without_data(db):
    with pytest.raises(CommandError, match="seeddemo"):
        call_command("benchmark", iterations=1)


def test_compare_gives_up_when_another_session_holds_the_tables(
    small_demo, second_connection
):
    other = second_connection(autocommit=False)
    other.execute("LOCK TABLE organization_members IN ACCESS SHARE MODE")

    with pytest.raises(CommandError, match="rolled back"):
        call_command("benchmark", iterations=1, compare=True, names=["activity_feed"])

    other.rollback()
    assert all(finding.ok for finding in verify())
