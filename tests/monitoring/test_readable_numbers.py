"""The statistics pages read as a person reads them; CSV keeps raw numbers."""

import csv
import io
import re

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from perfconsole.monitoring.models import QueryStat

from .conftest import flush_statistics

QUERIES = reverse("admin:monitoring_querystat_changelist")


@pytest.fixture
def slept(second_connection):
    """Run a statement of about 600 ms and return its statistics row."""
    conn = second_connection()
    # A shape of its own: pg_stat_statements keeps the first text of a shape
    # (aliases do not count), and other tests run pg_sleep too.
    conn.execute(
        "SELECT pg_sleep(0.6) FROM generate_series(1, 1) AS monitoring_readable_marker"
    )
    return QueryStat.objects.get(query__contains="monitoring_readable_marker")


@pytest.mark.django_db(transaction=True)
def test_a_600_ms_statement_reads_600_ms_with_the_exact_time_on_hover(
    admin_client, slept
):
    body = admin_client.get(f"{QUERIES}?q=monitoring_readable_marker").text

    mean = re.search(r'<span title="([\d.]+) ms">(60\d) ms</span>', body)
    assert mean, "the mean reads in milliseconds, three digits"
    assert float(mean.group(1)) == pytest.approx(slept.mean_time_ms)
    assert f">{slept.mean_time_ms:,.2f}<" not in body  # no "600.10" any more


@pytest.mark.django_db(transaction=True)
def test_csv_keeps_the_raw_milliseconds(admin_client, slept):
    export = admin_client.get(
        f"{QUERIES}?q=monitoring_readable_marker&columns=all&_export=csv"
    )

    header, row = list(csv.reader(io.StringIO(export.content.decode())))[:2]
    mean = row[header.index("Mean (ms)")]
    assert float(mean) == pytest.approx(slept.mean_time_ms)
    assert " ms" not in mean


@pytest.mark.django_db(transaction=True)
def test_the_query_page_reads_ids_times_and_counts(admin_client, slept):
    url = reverse("admin:monitoring_querystat_change", args=[quote(slept.pk)])

    body = admin_client.get(url).text

    assert f"Query {slept.queryid}" in body
    assert f"{slept.queryid:,}" not in body  # an id is no quantity
    mean = re.search(r'<th>Mean time</th><td class="num">([^\n]+)</td>', body)
    assert mean and re.fullmatch(r'<span title="[\d.]+ ms">60\d ms</span>', mean[1])
    assert f"{slept.calls:,} calls" in body


@pytest.mark.django_db(transaction=True)
def test_sizes_read_in_units_with_the_exact_bytes_on_hover(admin_client, scratch):
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.wide (id int PRIMARY KEY, pad text)")
    conn.execute(
        f"INSERT INTO {schema}.wide SELECT g, repeat('x', 500)"
        " FROM generate_series(1, 40000) g"
    )
    conn.execute(f"SELECT count(*) FROM {schema}.wide")
    flush_statistics(conn)
    url = reverse("admin:monitoring_tableperformance_changelist")

    body = admin_client.get(f"{url}?schema={schema}&columns=all").text

    size = re.search(r'<span title="([\d,]+) bytes">(\d+) MB</span>', body)
    assert size, "the table's size reads in MB"
    assert int(size.group(1).replace(",", "")) // (1024 * 1024) == pytest.approx(
        int(size.group(2)), abs=1
    )
