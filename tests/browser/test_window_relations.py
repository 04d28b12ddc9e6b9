"""Table performance over a time window and a table's charts, in a real Chromium."""

import uuid
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By

from tests.browser.test_history_charts import drawn_chart
from tests.history.conftest import collected, history_db  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def growing(history_db, second_connection, settings):  # noqa: F811
    """Create a table; return a function that scans it and makes it grow."""
    settings.STATS_SIZES_INTERVAL_SECONDS = 0
    conn = second_connection()
    name = f"winrel_browser_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE TABLE {name} (id serial PRIMARY KEY, note text)")

    def run(rows):
        # A second session, untagged: the product's work, not the console's.
        conn.execute(
            f"INSERT INTO {name} (note) SELECT repeat('x', 300)"
            " FROM generate_series(1, %s)",
            [rows],
        )
        conn.execute(f"SELECT count(*) FROM {name} WHERE length(note) + id < 0")
        conn.execute("SELECT pg_stat_force_next_flush()")

    yield name, run
    conn.execute(f"DROP TABLE IF EXISTS {name}")


def test_a_table_over_the_last_hour_and_its_charts(
    browser,
    superuser,
    growing,
    collected,  # noqa: F811
):
    name, run = growing
    collected()
    run(1000)
    second = collected().snapshot
    run(2000)
    collected()
    run(3000)
    last = collected().snapshot
    browser.sign_in("root", "root-password")
    tables = reverse("admin:monitoring_tableperformance_changelist")

    browser.open(tables)
    browser.click(
        browser.find("#window-switch").find_element(By.LINK_TEXT, "last hour")
    )

    assert "window=1h" in browser.path
    assert browser.find("#window-switch strong").text == "last hour"
    # A window after the second collection, whose size is the last before it.
    window = urlencode(
        {
            "window": "custom",
            "start": (second.taken_at + timedelta(microseconds=1)).isoformat(),
            "end": (last.taken_at + timedelta(seconds=1)).isoformat(),
        }
    )
    browser.open(f"{tables}?{window}")
    first = browser.find("#window-tables tbody tr")
    # The table that grew the most leads.
    assert f"public.{name}" in first.text, first.text
    browser.assert_no_csp_violation()
    browser.screenshot("window-tables")

    browser.click(first.find_element(By.LINK_TEXT, f"public.{name}"))

    width, points = drawn_chart(browser, "t_size")
    assert width > 0 and points >= 2
    width, points = drawn_chart(browser, "t_scans")
    assert width > 0 and points >= 2
    assert "window=custom" in browser.path
    browser.assert_no_csp_violation()
    browser.screenshot("table-charts")

    browser.open(reverse("admin:monitoring_indexusage_changelist") + "?window=1h")
    assert browser.find("#window-indexes tbody tr")
    browser.screenshot("window-indexes")
