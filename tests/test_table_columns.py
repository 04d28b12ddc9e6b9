"""Column kinds of core.tables: readable cells, exact values on hover, raw CSV."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from perfconsole.core.tables import (
    BytesColumn,
    ConsoleTable,
    DurationColumn,
    IdColumn,
    NumberColumn,
    SecondsColumn,
    SettingColumn,
    TimestampColumn,
    rows_table,
)

MOMENT = datetime(2026, 12, 1, 11, 2, 33, 123456, tzinfo=UTC)


class KindsTable(ConsoleTable):
    class Meta(ConsoleTable.Meta):
        pass

    mean_ms = DurationColumn()
    running = SecondsColumn()
    size_bytes = BytesColumn()
    queryid = IdColumn()
    shared_buffers = SettingColumn(unit_field="unit")
    work_mem = SettingColumn(unit="kB")
    seen = TimestampColumn()
    refreshed = TimestampColumn(relative=True)
    calls = NumberColumn()


ROW = {
    "mean_ms": 600.09699,
    "running": 20.7,
    "size_bytes": 10 * 1024 * 1024,
    "queryid": -8885596911298899480,
    "shared_buffers": 32768,
    "unit": "8kB",
    "work_mem": 4096,
    "seen": MOMENT,
    "refreshed": MOMENT,
    "calls": 13570,
}


def cells(row=ROW):
    """Return the rendered cells of one row, by column name."""
    table = KindsTable([row])
    bound = next(iter(table.rows))
    return {name: str(bound.get_cell(name)) for name in table.columns.names()}


def test_a_duration_reads_in_its_unit_with_the_exact_milliseconds_on_hover():
    assert cells()["mean_ms"] == '<span title="600.09699 ms">600 ms</span>'


def test_seconds_read_in_their_unit():
    # Exact already: nothing to show on hover.
    assert cells()["running"] == "20.7 s"


def test_an_interval_reads_like_seconds():
    row = {**ROW, "running": timedelta(minutes=2, seconds=10.246573)}
    assert cells(row)["running"] == '<span title="130.246573 s">2 min 10 s</span>'


def test_a_size_reads_in_megabytes_with_the_exact_bytes_on_hover():
    assert cells()["size_bytes"] == '<span title="10,485,760 bytes">10 MB</span>'


def test_an_id_has_no_separators():
    assert cells()["queryid"] == "-8885596911298899480"


def test_a_setting_reads_as_show_prints_it():
    shown = cells()
    assert shown["shared_buffers"] == "256MB"
    assert shown["work_mem"] == "4MB"


def test_a_moment_reads_with_seconds_and_how_long_ago_on_hover():
    shown = cells()["seen"]
    assert shown.startswith('<span title="')
    assert " ago" in shown
    assert shown.endswith(">2026-12-01 11:02:33 UTC</span>")


def test_a_moment_can_show_how_long_ago_beside_it():
    recent = timezone.now() - timedelta(minutes=3, seconds=5)
    shown = cells({**ROW, "refreshed": recent})["refreshed"]
    assert '<span class="help">(3 min ago)</span>' in shown
    assert f"{timezone.localtime(recent):%H:%M:%S}" in shown


def test_a_count_has_separators():
    assert cells()["calls"] == "13,570"


def test_a_missing_value_shows_a_dash():
    row = {name: None for name in ROW}
    shown = cells(row)
    assert {shown[name] for name in shown} == {"–"}


def test_csv_keeps_the_raw_values():
    header, row = list(KindsTable([ROW]).export_rows())
    values = dict(zip(header, row, strict=True))
    assert values["Mean ms (ms)"] == 600.09699
    assert values["Running (s)"] == 20.7
    assert values["Size bytes (bytes)"] == 10 * 1024 * 1024
    assert values["Queryid"] == -8885596911298899480
    assert values["Shared buffers"] == 32768
    assert values["Seen"] == MOMENT.isoformat()


@pytest.mark.parametrize(
    "key, value, shown",
    [
        ("size_bytes", 10 * 1024 * 1024, '<span title="10,485,760 bytes">10 MB</span>'),
        ("waiting_sec", 20.7, "20.7 s"),
        ("mean_ms", Decimal("1500"), '<span title="1500 ms">1.5 s</span>'),
        ("pid", 123456, "123456"),
        ("blocked_pid", 123456, "123456"),
        ("queryid", -8885596911298899480, "-8885596911298899480"),
        ("dead_rows", 13570, "13,570"),
    ],
)
def test_rows_of_dicts_get_the_column_their_key_names(key, value, shown):
    table = rows_table([{"subject": "public.t", key: value}])
    assert str(next(iter(table.rows)).get_cell(key)) == shown


def test_rows_of_dicts_read_moments_even_when_the_first_is_missing():
    table = rows_table([{"last_vacuum": None}, {"last_vacuum": MOMENT}])
    rows = list(table.rows)
    assert rows[0].get_cell("last_vacuum") == "–"
    assert "2026-12-01 11:02:33 UTC" in str(rows[1].get_cell("last_vacuum"))


def test_a_pretty_size_beside_its_bytes_is_left_out():
    table = rows_table([{"subject": "i", "size_bytes": 16384, "size": "16 kB"}])
    assert table.columns.names() == ["subject", "size_bytes"]
    assert str(table.columns["size_bytes"].header) == "size"


def test_zero_needs_no_exact_value_on_hover():
    shown = cells({**ROW, "mean_ms": 0.0, "size_bytes": 0})
    assert shown["mean_ms"] == "0 ms"
    assert shown["size_bytes"] == "0 bytes"
