"""Every list page fits a 1 440 px laptop screen, with demo-like data present.

Each page is opened in the browser fixture's 1 440 × 900 Chromium window; the
document may not scroll sideways. Screenshots go to var/screenshots/.
"""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from perfconsole.history.collector import console_database
from perfconsole.maintenance.models import ViewRefresh
from perfconsole.maintenance.services import refresh_view

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREEN_WIDTH = 1440
LIST_PAGES = [
    "monitoring_querystat_changelist",
    "monitoring_slowquery_changelist",
    "monitoring_indexusage_changelist",
    "monitoring_tableperformance_changelist",
    "monitoring_settingsreview_changelist",
    "health_healthcheck_changelist",
    "health_activity_changelist",
    "maintenance_materializedview_changelist",
    "maintenance_viewrefresh_changelist",
    "collaboration_teamproductivityanalytics_changelist",
    "collaboration_collaborationactivity_changelist",
    "collaboration_organizationmember_changelist",
    "collaboration_studycollaborator_changelist",
]


@pytest.fixture
def demo_data(superuser):
    """Load the small demo data set, run product-like reads, refresh the view."""
    call_command("seeddemo", scale="small", seed=3, stdout=StringIO())
    with connection.cursor() as wrapper:
        # On the driver's cursor: statements of the product, untagged.
        for number in range(20):
            wrapper.cursor.execute(
                "SELECT count(*) FROM collaboration_activity WHERE study_id IN"
                " (SELECT id FROM studies ORDER BY created_at LIMIT %s)",
                [number + 1],
            )
    refresh_view("team_productivity_analytics", ViewRefresh.Trigger.COMMAND)


@pytest.fixture
def dba(browser, demo_data):
    browser.sign_in("root", "root-password")
    return browser


def page_width(browser):
    """Return how far right the page reaches, its tables' hidden parts included.

    The admin puts change lists in a box that scrolls sideways, so a table
    cut off at the screen's edge does not widen the document: what a table
    hides beyond its box's edge counts too.
    """
    return browser.driver.execute_script(
        """
        const tables = [...document.querySelectorAll("#content table")];
        const hidden = tables.map((t) => t.offsetWidth - t.parentElement.clientWidth);
        return document.documentElement.scrollWidth + Math.max(0, ...hidden);
        """
    )


# With the console's own tables too: more and wider rows.
SWITCHED = [
    ("monitoring_indexusage_changelist", "?console=on"),
    ("monitoring_tableperformance_changelist", "?console=on"),
    ("monitoring_querystat_changelist", "?console=on"),
    ("health_healthcheck_changelist", "?console=1"),
]


@pytest.mark.parametrize(
    ("name", "query"), [(name, "") for name in LIST_PAGES] + SWITCHED
)
def test_the_list_page_fits_a_laptop_screen(dba, name, query):
    dba.open(reverse(f"admin:{name}") + query)
    dba.screenshot(f"width-{name}{'-console' if query else ''}")
    width = page_width(dba)
    assert width <= SCREEN_WIDTH, f"{name} is {width} px wide"


def contrast(browser, css):
    """Return the WCAG contrast ratio of an element's text on the page."""
    return browser.driver.execute_script(
        """
        const element = document.querySelector(arguments[0]);
        const rgb = (value) => value.match(/[\\d.]+/g).slice(0, 3).map(Number);
        let node = element, background = null;
        while (node && !background) {
            const colour = getComputedStyle(node).backgroundColor;
            if (!colour.startsWith("rgba(0, 0, 0, 0)")) background = rgb(colour);
            node = node.parentElement;
        }
        background = background || [255, 255, 255];
        const luminance = ([r, g, b]) => {
            const [lr, lg, lb] = [r, g, b].map((c) => {
                c /= 255;
                return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
            });
            return 0.2126 * lr + 0.7152 * lg + 0.0722 * lb;
        };
        const [a, b] = [luminance(rgb(getComputedStyle(element).color)),
                        luminance(background)].sort((x, y) => y - x);
        return (a + 0.05) / (b + 0.05);
        """,
        css,
    )


def test_the_settings_review_ok_is_readable(dba):
    dba.open(reverse("admin:monitoring_settingsreview_changelist"))
    assert dba.find_all(".pc-status-ok")
    # WCAG AA for normal text.
    assert contrast(dba, ".pc-status-ok") >= 4.5


@pytest.fixture
def rows(demo_data):
    """Create an alert and two benchmark runs with a result, as a DBA meets them."""
    from datetime import UTC, datetime

    from perfconsole.alerts.models import Alert, AlertRule
    from perfconsole.benchmarks.models import BenchmarkResult, BenchmarkRun

    rule = AlertRule.objects.create(
        name="Dead rows on a big table",
        metric="dead_tuples",
        comparison=">",
        threshold=1000,
    )
    now = datetime(2026, 11, 1, 10, 46, 12, tzinfo=UTC)
    alert = Alert.objects.create(
        rule=rule,
        database=console_database(),
        subject="public.collaboration_activity",
        value=8653,
        state="firing",
        first_seen=now,
        last_seen=now,
    )
    runs = []
    for p95 in (40.5, 3.25):
        run = BenchmarkRun.objects.create(
            started_at=now,
            scale="small",
            database="perfconsole",
            server_version="18.1",
            server_version_num=180001,
            settings={"work_mem": "4096 kB", "shared_buffers": "32768"},
            row_counts={"collaboration_activity": 20000},
            iterations=5,
            compare=True,
            dropped=["DROP INDEX IF EXISTS idx_collaboration_activity_timeline"],
        )
        BenchmarkResult.objects.create(
            run=run,
            name="activity_feed",
            label="Activity feed",
            sql="SELECT * FROM collaboration_activity ORDER BY created_at DESC"
            " LIMIT 50",
            target_ms=25,
            goal_ms=2.5,
            p50_ms=p95 / 2,
            p95_ms=p95,
            p99_ms=p95,
            max_ms=p95 * 1.5,
            mean_ms=p95 / 2,
            client_p50_ms=p95 / 2 + 0.4,
            client_p95_ms=p95 + 0.4,
            client_p99_ms=p95 + 0.6,
            rows=50,
            buffers_hit=412,
            buffers_read=3,
            indexes=["idx_collaboration_activity_timeline"],
            seq_scan=False,
            passed=True,
            goal_met=p95 < 2.5,
            plan={"Plan": {"Node Type": "Limit", "Actual Rows": 50}},
            without={"p50_ms": 120.5, "p95_ms": 180.25},
            reduction_p50_pct=90,
            reduction_p95_pct=95,
        )
        runs.append(run)
    from tests.benchmarks.test_scaling import stored_run

    return {"alert": alert, "runs": runs, "scaling": stored_run()}


def every_page(rows):
    """Yield (name, path) of every admin page a DBA opens."""
    from django.contrib import admin

    from perfconsole.monitoring.models import QueryStat

    for model in admin.site._registry:
        opts = model._meta
        name = f"{opts.app_label}_{opts.model_name}_changelist"
        yield name, reverse(f"admin:{name}")
    yield "index", reverse("admin:index")
    yield "history_dashboard", reverse("admin:history_dashboard")
    yield "fleet", reverse("admin:history_monitoreddatabase_fleet")
    first, second = rows["runs"]
    yield (
        "benchmark_run",
        reverse("admin:benchmarks_benchmarkrun_change", args=[first.pk]),
    )
    yield (
        "benchmark_compare",
        reverse("admin:benchmarks_benchmarkrun_compare", args=[first.pk, second.pk]),
    )
    yield (
        "scaling_run",
        reverse("admin:benchmarks_scalingrun_change", args=[rows["scaling"].pk]),
    )
    yield (
        "materialized_view",
        reverse(
            "admin:maintenance_materializedview_change",
            args=["team_productivity_analytics"],
        ),
    )
    # The longest statement among the busiest: the page that wraps most.
    busiest = QueryStat.objects.order_by("-calls")[:50]
    query = max(busiest, key=lambda stat: len(stat.query))
    yield "query", reverse("admin:monitoring_querystat_change", args=[query.pk])
    yield "alert", reverse("admin:alerts_alert_change", args=[rows["alert"].pk])


def test_every_admin_page_fits_a_laptop_screen(browser, rows, second_connection):
    # A session left idle in a transaction after a long statement: a row of
    # live activity with its query.
    session = second_connection(autocommit=False)
    # An application of its own: the console hides its own sessions.
    session.execute("SET application_name = 'reporting-job'")
    session.execute(
        "SELECT s.title, count(*) FROM collaboration_activity a"
        " JOIN studies s ON s.id = a.study_id"
        " WHERE a.created_at > now() - interval '30 days'"
        " GROUP BY s.title ORDER BY count(*) DESC LIMIT 10"
    ).fetchall()
    browser.sign_in("root", "root-password")
    too_wide = []
    for name, path in every_page(rows):
        browser.open(path)
        assert "Server Error" not in browser.driver.title, path
        browser.screenshot(f"width-all-{name}")
        width = page_width(browser)
        if width > SCREEN_WIDTH:
            too_wide.append(f"{name} is {width} px wide ({path})")
    assert not too_wide, "\n".join(too_wide)
