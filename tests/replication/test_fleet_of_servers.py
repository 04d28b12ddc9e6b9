"""The fleet overview of real servers: the console, a primary, its standby, a 15."""

import re

from django.urls import reverse

from perfconsole.history.collector import console_database
from perfconsole.history.dispatch import dispatch
from perfconsole.history.models import MonitoredDatabase, Snapshot

from .conftest import target_row

FLEET_URL = reverse("admin:history_monitoreddatabase_fleet")


def test_the_fleet_overview_lists_every_server_collected_and_up(
    admin_client, transactional_db, targets, server_15
):
    primary, standby = targets
    old = target_row("debian 15", server_15.planned_port())
    # The console's own row, as the console creates it (a flush removes it).
    console = console_database()

    # One round of the collection schedule: the console's own here, each
    # target in a task of its own (run in this process).
    result = dispatch(sync=True)

    for target in (primary, standby, old):
        assert f"{target.name}: queued" in result
        target.refresh_from_db()
        assert target.status == MonitoredDatabase.UP, target.status_reason
        assert Snapshot.objects.filter(database=target, status=Snapshot.OK).exists()
    page = admin_client.get(FLEET_URL).content.decode()
    table = page[page.index('id="fleet"') :]
    listed = re.findall(r'/change/">([^<]*)</a>', table)
    assert sorted(listed) == sorted(
        [console.name, primary.name, standby.name, old.name]
    )
    for target in (primary, standby, old):
        row = table[table.index(f">{target.name}</a>") :]
        row = row[: row.index("</tr>")]
        assert ">up<" in row, row
        # Its last collection is shown, not the dash of a target never collected.
        assert "UTC" in row.split("</td>")[-2], row
    assert "standby" in table[table.index(f">{standby.name}</a>") :][:200]
