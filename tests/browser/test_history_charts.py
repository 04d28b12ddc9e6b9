"""The dashboard and a query's charts drawn by uPlot in a real Chromium."""

import pytest
from django.urls import reverse
from selenium.webdriver.support.ui import WebDriverWait

from perfconsole.history.models import StatementText
from tests.history.conftest import collected, history_db, probe  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def drawn_chart(browser, chart_id):
    """Wait for one chart's canvas; return (canvas width, points in its data)."""
    css = f'[data-chart="{chart_id}"].pc-chart-drawn canvas'
    WebDriverWait(browser.driver, 15).until(lambda driver: browser.find_all(css))
    canvas = browser.find(css)
    container = browser.find(f'[data-chart="{chart_id}"]')
    return canvas.size["width"], int(container.get_attribute("data-points"))


def test_dashboard_and_query_charts_are_drawn(
    browser,
    superuser,
    probe,  # noqa: F811
    collected,  # noqa: F811
):
    _table, marker = probe
    queryid = marker(1)
    collected()
    marker(5)
    collected()
    marker(3)
    collected()
    browser.sign_in("root", "root-password")

    browser.click(browser.link("Dashboard: health, alerts and charts over time"))
    width, points = drawn_chart(browser, "tps")
    assert width > 0 and points >= 2
    width, points = drawn_chart(browser, "calls")
    assert width > 0 and points >= 2
    assert "commits" in browser.find("#card-tps").text
    browser.assert_no_csp_violation()
    browser.screenshot("dashboard")
    # The admin's dark theme: the charts take its colours when drawn.
    browser.driver.execute_script("localStorage.setItem('theme', 'dark')")
    browser.driver.refresh()
    drawn_chart(browser, "tps")
    browser.assert_no_csp_violation()
    browser.screenshot("dashboard-dark")
    browser.driver.execute_script("localStorage.removeItem('theme')")

    statement = StatementText.objects.get(queryid=queryid)
    browser.open(
        reverse(
            "admin:monitoring_querystat_change",
            args=[f"{queryid}.{statement.userid}.{int(statement.toplevel)}"],
        )
    )
    width, points = drawn_chart(browser, "q_calls")
    assert width > 0 and points >= 2
    browser.assert_no_csp_violation()
    browser.screenshot("query-charts")
