"""`benchmark --scaling`: the slope fit, the verdicts, the command, the page."""

import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from psycopg import sql

from perfconsole.benchmarks import scaling, scaling_report
from perfconsole.benchmarks.models import ScalingRun
from perfconsole.benchmarks.queries import QUERIES
from perfconsole.collaboration.demo import Scale, load_demo
from perfconsole.core.db import console_connection_params, raw_connection
from tests.health.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
# Two tiny scales, the second about four times the first.
TINY = Scale(10, 400, 600, 100, 500, 2_000)
TINY4 = Scale(40, 800, 4_000, 400, 2_000, 8_000)


# -- the fit -------------------------------------------------------------------


def test_the_slope_of_a_power_law_is_its_exponent():
    assert scaling_report.fit_slope([(1, 3), (10, 3)]) == pytest.approx(0)
    assert scaling_report.fit_slope([(1, 2), (100, 200)]) == pytest.approx(1)
    points = [(x, 3 * x**0.5) for x in (2, 20, 200, 2000)]
    assert scaling_report.fit_slope(points) == pytest.approx(0.5)


def test_the_slope_is_the_least_squares_fit_of_scattered_points():
    # log10: (0, 0), (1, 1), (2, 1): mean (1, 2/3); sum dx*dy = 1, sum dx^2 = 2.
    assert scaling_report.fit_slope([(1, 1), (10, 10), (100, 10)]) == pytest.approx(0.5)


def test_no_slope_without_two_sizes_or_with_a_zero():
    assert scaling_report.fit_slope([]) is None
    assert scaling_report.fit_slope([(10, 1), (10, 2)]) is None
    assert scaling_report.fit_slope([(1, 1), (10, 0)]) is None
    assert scaling_report.fit_slope([(0, 1), (10, 1)]) is None


def point(query, scale, rows, p95, *, group="all", members=None, result=1.0):
    return SimpleNamespace(
        query=query,
        label=query,
        function=query in scaling.FUNCTIONS,
        scale=scale,
        data_rows=rows,
        group=group,
        median_members=members,
        p95_ms=p95,
        rows_p95=result,
    )


def test_a_lookup_is_flat_within_one_and_a_half_times():
    flat = [
        point("activity_feed", "medium", 100_000, 0.10),
        point("activity_feed", "large", 1_000_000, 0.15),
    ]
    steep = [*flat[:1], point("activity_feed", "large", 1_000_000, 0.151)]

    [query] = scaling_report.analyse(flat, ["medium", "large"])
    verdict, by_size = query.verdicts
    assert verdict.met is True
    assert "large/medium = 1.50 for 10.0x the data" in verdict.text
    assert by_size.met is None and "too few points" in by_size.text
    [query] = scaling_report.analyse(steep, ["medium", "large"])
    assert query.verdicts[0].met is False


def test_a_function_may_grow_as_fast_as_its_result_and_no_faster():
    name = "user_collaborative_studies"
    linear = [
        point(name, "large", 1_000, 1.0, group="10-99", members=30, result=3),
        point(name, "large", 1_000, 10.0, group="100-999", members=300, result=30),
    ]
    faster = [
        point(name, "large", 1_000, 1.0, group="10-99", members=30, result=3),
        point(name, "large", 1_000, 20.0, group="100-999", members=300, result=30),
    ]

    [query] = scaling_report.analyse(linear, ["large"])
    assert query.bucket_slope == pytest.approx(1)
    assert query.bucket_rows_slope == pytest.approx(1)
    assert [v.met for v in query.verdicts] == [None, True]
    [query] = scaling_report.analyse(faster, ["large"])
    assert query.bucket_slope == pytest.approx(1 + math.log10(2))
    assert [v.met for v in query.verdicts] == [None, False]


@pytest.mark.parametrize(
    "members, bucket",
    [(1, "1-9"), (9, "1-9"), (10, "10-99"), (999, "100-999"), (1_000, "1k-9k")]
    + [(9_999, "1k-9k"), (10_000, "10k+"), (0, None)],
)
def test_organizations_fall_in_their_bucket(members, bucket):
    assert scaling.bucket_of(members) == bucket


# -- the command on two tiny scales ------------------------------------------------


@pytest.fixture
def other_database(db):
    """Create, migrate and fill a second database on the test server (4x tiny).

    Migrated by `manage.py migrate collaboration` in a process of its own:
    the router migrates the default alias only.
    """
    name = f"{connection.settings_dict['NAME']}_other"
    admin = raw_connection(console_connection_params(dbname="postgres"))
    admin.execute(
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    )
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        db = connection.settings_dict
        login = quote(db["USER"], safe="")
        if db.get("PASSWORD"):
            login += ":" + quote(db["PASSWORD"], safe="")
        url = f"postgresql://{login}@{db['HOST']}:{db['PORT']}/{name}"
        env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1"}
        env.pop("PERFCONSOLE_PROCESS", None)
        migrated = subprocess.run(
            [sys.executable, "manage.py", "migrate", "collaboration", "-v0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert migrated.returncode == 0, migrated.stderr
        alias = scaling.open_alias("setup", name)
        load_demo(TINY4, seed=2, using=alias)
        scaling.close_alias(alias)
        yield name
    finally:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )
        admin.close()


def test_the_command_measures_every_query_at_both_scales(other_database, capsys):
    load_demo(TINY, seed=1)
    here = connection.settings_dict["NAME"]

    call_command(
        "benchmark",
        scaling=True,
        databases=[f"big={other_database}", f"tiny={here}"],
        iterations=3,
        warmup=0,
    )

    out = capsys.readouterr().out
    run = ScalingRun.objects.get()
    # Smallest data first, whatever the order given.
    assert [scale["label"] for scale in run.scales] == ["tiny", "big"]
    assert run.scales[1]["data_rows"] > 3 * run.scales[0]["data_rows"]
    assert len(run.load_before.split()) == 3
    points = list(run.points.all())
    overall = {(p.query, p.scale) for p in points if p.group == "all"}
    assert overall == {(q.name, s) for q in QUERIES for s in ("tiny", "big")}
    buckets = [p for p in points if p.group != "all"]
    assert buckets, "no organization-size bucket measured"
    for bucket in buckets:
        low, high = next((lo, hi) for n, lo, hi in scaling.BUCKETS if n == bucket.group)
        assert low <= bucket.median_members <= (high or math.inf)
        assert bucket.organizations >= 1
    for p in points:
        assert p.calls == 3 and 0 < p.p50_ms <= p.p95_ms <= p.max_ms
    analytics = [p for p in points if p.query == "team_analytics_function"]
    assert {p.rows_p95 for p in analytics} == {1}
    assert all(p.buffers_hit + p.buffers_read > 0 for p in points)
    assert "Verdicts:" in out and "user_collaborative_studies (function)" in out
    assert f"big = {other_database}" in out
    # The extra connection is closed. Its backend leaves pg_stat_activity
    # when it has exited, a moment after the client closed it.
    wait_for(lambda: backends_on(other_database) == 0)


def backends_on(database):
    """Return how many sessions pg_stat_activity shows on a database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [database]
        )
        return cursor.fetchone()[0]


def test_without_databases_it_measures_this_one_under_its_scale(db, capsys):
    load_demo(TINY, seed=1)

    call_command(
        "benchmark", scaling=True, iterations=2, warmup=0, names=["activity_feed"]
    )

    run = ScalingRun.objects.get()
    assert run.scale_labels == ["small"]
    assert {p.query for p in run.points.all()} == {"activity_feed"}
    assert "flat: needs two scales" in capsys.readouterr().out


@pytest.mark.parametrize(
    "options, message",
    [
        ({"databases": ["small"]}, "write LABEL=DATABASE"),
        ({"databases": ["=x"]}, "write LABEL=DATABASE"),
        ({"databases": ["a b=x"]}, "the label may hold"),
        ({"databases": ["a=x", "a=y"]}, "own label; given twice: a"),
        ({"databases": ["a=x", "b=x"]}, "own database; given twice: x"),
        ({"databases": ["a=no_such_database_here"]}, "cannot read it"),
        ({"databases": ["a=" + "x" * 64]}, "not a PostgreSQL database name"),
        ({"compare": True}, "--scaling does not take --compare"),
        ({"scale": "large"}, "--scaling does not take --scale"),
        ({"json_file": "/tmp/x.json"}, "--scaling does not take --json"),
        ({"iterations": 0}, "--iterations must be at least 1"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(db, options, message):
    with pytest.raises(CommandError, match=message):
        call_command("benchmark", scaling=True, **options)


def test_a_demo_scale_label_must_match_its_data(db):
    load_demo(TINY, seed=1)
    here = connection.settings_dict["NAME"]

    with pytest.raises(CommandError, match="looks like small .* not large"):
        call_command("benchmark", scaling=True, databases=[f"large={here}"])


def test_database_needs_scaling(db):
    with pytest.raises(CommandError, match="--database only makes sense"):
        call_command("benchmark", databases=["a=b"])


def test_no_data_is_a_message(db):
    with pytest.raises(CommandError, match="no collaboration data"):
        call_command("benchmark", scaling=True, iterations=1)


# -- the admin page -----------------------------------------------------------------


def stored_run(label="<b>big</b>"):
    """Store a scaling run of two scales by hand (figures of no importance)."""
    points = []
    for scale, rows, factor in (("tiny", 1_000, 1), (label, 10_000, 1.2)):
        for query in QUERIES:
            for group, members in (("all", None), ("10-99", 30.0), ("100-999", 300.0)):
                points.append(
                    scaling.Point(
                        query=query.name,
                        label=query.label,
                        function=query.name in scaling.FUNCTIONS,
                        scale=scale,
                        data_rows=rows,
                        group=group,
                        organizations=None if members is None else 4,
                        median_members=members,
                        calls=3,
                        p50_ms=0.5 * factor,
                        p95_ms=1.0 * factor * (members or 100) / 100,
                        max_ms=2.0,
                        rows=1,
                        rows_p95=1,
                    )
                )
    return ScalingRun.store(
        points,
        started_at=1_700_000_000,
        iterations=3,
        server_version="18.1",
        scales=[
            {"label": "tiny", "database": "<i>db</i>", "data_rows": 1_000},
            {"label": label, "database": "other", "data_rows": 10_000},
        ],
        load_before="0.50 0.40 0.30",
        load_after="0.60 0.40 0.30",
    )


def test_the_page_shows_the_table_charts_and_verdicts(admin_client):
    run = stored_run()

    response = admin_client.get(
        reverse("admin:benchmarks_scalingrun_change", args=[run.pk])
    )

    assert response.status_code == 200
    page = " ".join(response.content.decode().split())
    assert 'id="scaling-table"' in page and 'data-scaling-chart="scales"' in page
    assert 'data-scaling-chart="buckets"' in page
    assert "benchmarks/scaling.js" in page and "uPlot.iife.min.js" in page
    assert "0.50 0.40 0.30" in page
    # A 1.2x lookup is flat; the function's p95 grows 10x on constant rows.
    assert "<strong>met</strong> activity_feed (lookup): p95 &lt;b&gt;big" in page
    assert "/tiny = 1.20 for 10.0x the data" in page
    assert "by organization size: 10-99 1.20, 100-999 1.20" in page
    assert "<strong>MISSED</strong> team_analytics_function (function)" in page
    # Every query's p95 grows 10x across buckets on constant rows.
    assert page.count("<strong>MISSED</strong>") == len(QUERIES)
    # The slopes: right-aligned numbers with two decimals, the label escaped.
    slopes = page[page.index('id="scaling-slopes"') :]
    assert (
        '<td>get_user_collaborative_studies</td><td class="num">0.08</td>'
        '<td class="num">0.00</td><td class="num">1.00</td>'
    ) in slopes
    assert "tiny 0/0; &lt;b&gt;big&lt;/b&gt; 0/0" in slopes
    # Labels and names are escaped, in the HTML and in the chart's JSON.
    assert "<b>" not in page and "<i>" not in page
    assert "&lt;i&gt;db&lt;/i&gt;" in page
    assert "at \\u003Cb\\u003Ebig\\u003C/b\\u003E" in page


def test_the_list_shows_runs(admin_client):
    stored_run()

    page = admin_client.get(reverse("admin:benchmarks_scalingrun_changelist"))

    assert page.status_code == 200
    assert "&lt;b&gt;big&lt;/b&gt; (10,000)" in page.content.decode()


def test_a_missing_or_malformed_run_is_not_found(admin_client):
    assert (
        admin_client.get("/admin/benchmarks/scalingrun/999/change/").status_code == 404
    )
    assert (
        admin_client.get("/admin/benchmarks/scalingrun/x1/change/").status_code == 404
    )


def test_the_page_is_for_staff_with_the_view_permission(client, staff_user):
    run = stored_run()
    url = reverse("admin:benchmarks_scalingrun_change", args=[run.pk])

    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    client.force_login(staff_user)
    assert client.get(url).status_code == 403
