"""The health checks page reads sizes and times as a person reads them."""

import re

import pytest

from perfconsole.health import activity
from tests.health.conftest import wait_for

CHECKS_URL = "/admin/health/healthcheck/"

pytestmark = pytest.mark.django_db


def test_thresholds_read_in_megabytes_not_bytes(admin_client):
    content = admin_client.get(CHECKS_URL).content.decode()

    assert "of 10 MB or more" in content  # unused indexes
    assert "10,485,760" not in content
    assert "bytes or more" not in content


def test_sizes_read_in_units_with_the_exact_bytes_on_hover(
    admin_client, problem_schema, settings
):
    settings.HEALTH_THRESHOLDS = {"unused_index_min_bytes": 512 * 1024}

    content = admin_client.get(CHECKS_URL).content.decode()

    assert "of 512 kB or more" in content
    section = content[content.index('id="check-unused_indexes"') :]
    section = section[: section.index("</table>")]
    assert "health_fixture.unused_payload_idx" in section
    assert re.search(
        r'<td class="num"><span title="[\d,]+ bytes">\d+ kB</span>', section
    )
    # The byte count reads readably: pg_size_pretty's text beside it is gone.
    assert "<th>size bytes</th>" not in section


def test_the_statistics_reset_reads_with_seconds(admin_client):
    content = admin_client.get(CHECKS_URL).content.decode()

    reset = re.search(r"since statistics were reset at ([^.]*)\.", content)
    never = "since statistics began (never reset)" in content
    assert never or re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+", reset.group(1))


@pytest.mark.django_db(transaction=True)
def test_live_activity_reads_seconds_in_their_unit(admin_client, background):
    job = background("SELECT pg_sleep(30) AS readable_activity_marker")
    wait_for(lambda: job.pid in {r["pid"] for r in activity.sessions()})

    content = admin_client.get("/admin/health/activity/").content.decode()

    row = content[content.index(f'<td class="num">{job.pid}</td>') :]
    row = row[: row.index("</tr>")]
    cells = re.findall(r'<td class="num">(?:<span title="([\d.]+) s">)?([^<]+)', row)
    # pid, then the time in state and in the transaction: "1.02 s", not "1.0234".
    durations = [shown for _, shown in cells[1:3]]
    assert all(re.fullmatch(r"[\d.]+ (µs|ms|s)", text) for text in durations), row
