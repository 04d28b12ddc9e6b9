"""The query statistics page over a time window, in a real Chromium."""

import uuid

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By

from tests.browser.test_history_charts import drawn_chart
from tests.history.conftest import collected, history_db  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lookups(history_db, second_connection):  # noqa: F811
    """Create a table; return a function running a lookup on it, its marker."""
    conn = second_connection()
    name = f"winq_browser_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, note text)")
    conn.execute(
        f"INSERT INTO {name} SELECT g, 'n' || g FROM generate_series(1, 500) g"
    )

    def run(times):
        # A second session, untagged: the product's statement, not the console's.
        for value in range(times):
            conn.execute(
                f"SELECT note AS {name}_seen FROM {name} WHERE id = %s", [value]
            )
        return f"{name}_seen"

    yield run
    conn.execute(f"DROP TABLE IF EXISTS {name}")


def test_the_query_statistics_over_the_last_hour(
    browser,
    superuser,
    lookups,
    collected,  # noqa: F811
):
    collected()
    marker = lookups(4)
    collected()
    lookups(6)
    collected()
    browser.sign_in("root", "root-password")

    browser.open(reverse("admin:monitoring_querystat_changelist"))
    browser.click(
        browser.find("#window-switch").find_element(By.LINK_TEXT, "last hour")
    )

    assert "window=1h" in browser.path
    assert browser.find("#window-switch strong").text == "last hour"
    rows = browser.find_all("#window-statements tbody tr")
    ours = [row for row in rows if marker in row.text]
    assert len(ours) == 1, [row.text for row in rows]
    # 10 calls in the window, all new: no window before it had them.
    assert " 10 " in f" {ours[0].text} " and "new" in ours[0].text
    browser.screenshot("query-statistics-last-hour")

    browser.click(ours[0].find_element(By.PARTIAL_LINK_TEXT, marker))
    assert "window=1h" in browser.path
    assert "Over time: last hour" in browser.text
    width, points = drawn_chart(browser, "q_calls")
    assert width > 0 and points >= 2
    browser.screenshot("query-last-hour")
