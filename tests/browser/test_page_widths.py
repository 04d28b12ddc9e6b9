"""Every list page fits a 1 440 px laptop screen, with demo-like data present.

Each page is opened in the browser fixture's 1 440 × 900 Chromium window; the
document may not scroll sideways. Screenshots go to var/screenshots/.
"""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

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
