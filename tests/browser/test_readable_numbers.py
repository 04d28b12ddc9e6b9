"""Numbers and moments as a DBA reads them, in a real Chromium."""

import re

import pytest
from django.urls import reverse

from tests.browser.test_dba_walkthrough import column, dba  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_600_ms_statement_reads_600_ms_with_the_exact_time_on_hover(
    dba,  # noqa: F811
    second_connection,
):
    second_connection().execute("SELECT pg_sleep(0.6) AS browser_readable_marker")
    url = reverse("admin:monitoring_querystat_changelist")

    dba.open(f"{url}?q=browser_readable_marker")

    assert re.fullmatch(r"60\d ms", column(dba, "MEAN")[0])
    cell = dba.find("#content tbody tr td span[title$=' ms']")
    assert float(cell.get_attribute("title").removesuffix(" ms")) >= 600
    dba.screenshot("query-statistics-readable")
    dba.click(dba.driver.find_element("partial link text", "browser_readable_marker"))
    heading = dba.find("#content h1").text
    assert re.fullmatch(r"Query -?\d+", heading), heading  # no separators
