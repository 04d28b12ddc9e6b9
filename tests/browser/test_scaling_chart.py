"""The scaling run's log-log charts drawn by uPlot in a real Chromium."""

import pytest
from django.urls import reverse
from selenium.webdriver.support.ui import WebDriverWait

from tests.benchmarks.test_scaling import stored_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def drawn(browser, chart_id):
    """Wait for one chart's canvas; return (canvas width, points in its data)."""
    css = f'[data-scaling-chart="{chart_id}"].pc-chart-drawn canvas'
    WebDriverWait(browser.driver, 15).until(lambda driver: browser.find_all(css))
    container = browser.find(f'[data-scaling-chart="{chart_id}"]')
    return browser.find(css).size["width"], int(container.get_attribute("data-points"))


def test_both_log_log_charts_are_drawn(browser, superuser):
    run = stored_run()
    browser.sign_in("root", "root-password")

    browser.open(reverse("admin:benchmarks_scalingrun_change", args=[run.pk]))

    # Seven queries at two scales; at two bucket sizes of the largest scale.
    assert drawn(browser, "scales")[1] == 14
    width, points = drawn(browser, "buckets")
    assert width > 0 and points == 14
    legend = browser.find("#card-scales").text
    assert "activity_feed (slope 0.08)" in legend
    # Both axes are logarithmic.
    assert browser.driver.execute_script(
        "return [uPlot.rangeLog !== undefined, document.querySelectorAll("
        "'#card-buckets .u-legend .u-series').length]"
    ) == [True, 8]
    browser.assert_no_csp_violation()
    errors = [
        entry["message"]
        for entry in browser.driver.get_log("browser")
        if entry["level"] == "SEVERE"
    ]
    assert not errors, errors
    browser.screenshot("scaling")
