"""Readable numbers and times: perfconsole.core.formatting and its filters."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone

from perfconsole.core import formatting

MOMENT = datetime(2026, 12, 1, 11, 2, 33, 123456, tzinfo=UTC)
MISSING = [None, float("nan"), float("inf"), float("-inf"), "abc", True]


@pytest.mark.parametrize(
    "ms, shown",
    [
        (0, "0 ms"),
        (0.042, "42 µs"),
        (0.5, "500 µs"),
        (0.9999, "1 ms"),  # rounded before the unit is chosen
        (9.876, "9.88 ms"),
        (12.34, "12.3 ms"),
        (123.456, "123 ms"),
        (999.9, "1 s"),
        (20_700, "20.7 s"),
        (59_999, "1 min 0 s"),
        (600_096.99, "10 min 0 s"),  # pg_sleep(600)
        (3_599_999, "1 h 0 min"),
        (5_400_000, "1 h 30 min"),
        (86_400_000, "1 day 0 h"),
        (1e12, "11,574 days 2 h"),
        (-1500, "-1.5 s"),
        (Decimal("12.5"), "12.5 ms"),
        ("250", "250 ms"),
    ],
)
def test_durations_read_in_the_unit_that_fits(ms, shown):
    assert formatting.duration(ms) == shown


@pytest.mark.parametrize("value", MISSING)
def test_a_missing_value_reads_empty(value):
    assert formatting.duration(value) == ""
    assert formatting.seconds(value) == ""
    assert formatting.size(value) == ""


def test_seconds_and_intervals_read_like_durations():
    assert formatting.seconds(20.7) == "20.7 s"
    assert formatting.seconds(timedelta(minutes=2, seconds=10.246573)) == "2 min 10 s"
    assert formatting.seconds(0) == "0 ms"


@pytest.mark.parametrize(
    "value, shown",
    [
        (0, "0 bytes"),
        (10_239, "10239 bytes"),  # pg_size_pretty moves up at 10240
        (10_240, "10 kB"),
        (13_570, "13 kB"),
        (10_485_760, "10 MB"),
        (10 * 2**30, "10 GB"),
        (-20_480, "-20 kB"),
        (2**70, "1048576 PB"),
    ],
)
def test_sizes_read_as_pg_size_pretty_prints_them(value, shown):
    assert formatting.size(value) == shown


@pytest.mark.parametrize(
    "value, unit, shown",
    [
        (32768, "8kB", "256MB"),  # shared_buffers
        (4096, "kB", "4MB"),
        (100, "kB", "100kB"),
        (0, "kB", "0"),
        (60000, "ms", "1min"),
        (1000, "ms", "1s"),
        (-1, "ms", "-1"),  # "off" for timeouts and thresholds
        (86400, "s", "1d"),
        (200, "", "200"),
        (200, None, "200"),
        ("on", None, "on"),
        ("0.9", "", "0.9"),
        (None, "kB", ""),
    ],
)
def test_settings_read_as_show_prints_them(value, unit, shown):
    assert formatting.pg_setting(value, unit) == shown


def test_timestamps_have_seconds_in_the_console_time_zone(settings):
    assert formatting.timestamp(MOMENT) == "2026-12-01 11:02:33 UTC"
    assert formatting.timestamp(None) == ""
    settings.TIME_ZONE = "Europe/Berlin"
    with timezone.override("Europe/Berlin"):
        assert formatting.timestamp(MOMENT) == "2026-12-01 12:02:33 CET"


@pytest.mark.parametrize(
    "offset, shown",
    [
        (timedelta(seconds=-5), "just now"),
        (timedelta(seconds=-45), "45 s ago"),
        (timedelta(minutes=-3, seconds=-20), "3 min ago"),
        (timedelta(hours=-5), "5 h ago"),
        (timedelta(days=-1), "1 day ago"),
        (timedelta(days=-400), "400 days ago"),
        (timedelta(hours=2), "in 2 h"),
    ],
)
def test_relative_time(offset, shown):
    assert formatting.ago(MOMENT + offset, now=MOMENT) == shown


def test_relative_time_of_nothing_is_empty():
    assert formatting.ago(None) == ""


def test_an_id_has_no_separators():
    assert formatting.identifier(-8885596911298899480) == "-8885596911298899480"
    assert formatting.identifier(None) == ""


def render(source, **context):
    return Template("{% load console %}" + source).render(Context(context))


def test_the_filters_are_available_in_templates():
    assert render("{{ v|duration }}", v=600096.99) == "10 min 0 s"
    assert render("{{ v|bytes }}", v=10485760) == "10 MB"
    assert render("{{ v|pg_setting:'8kB' }}", v=32768) == "256MB"
    assert render("{{ v|timestamp }}", v=MOMENT) == "2026-12-01 11:02:33 UTC"
    assert render("{{ v|identifier }}", v=-8885596911298899480) == (
        "-8885596911298899480"
    )


def test_readable_shows_the_exact_value_on_hover():
    assert render('{% readable v "duration" %}', v=600096.99) == (
        '<span title="600096.99 ms">10 min 0 s</span>'
    )
    assert render('{% readable v "size" %}', v=10485760) == (
        '<span title="10,485,760 bytes">10 MB</span>'
    )
    assert render('{% readable v "seconds" %}', v=timedelta(seconds=130.25)) == (
        '<span title="130.25 s">2 min 10 s</span>'
    )
    # Nothing to explain: no span.
    assert render('{% readable v "size" %}', v=5) == "5 bytes"
    assert render('{% readable v "duration" %}', v=None) == ""


def test_admin_timestamps_have_seconds(settings):
    from django.utils.formats import date_format

    assert date_format(MOMENT, "DATETIME_FORMAT") == "2026-12-01 11:02:33 UTC"
    assert date_format(MOMENT, "SHORT_DATETIME_FORMAT") == "2026-12-01 11:02:33"
