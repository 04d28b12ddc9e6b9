"""The compare page names what a change between two windows made slower, on a
real PostgreSQL: an index dropped between two windows of real statements."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse

from perfconsole.history.compare import compare_windows

from .conftest import flush_statistics, statement_row

URL = "admin:history_windowcompare_changelist"


def lookups(table, times):
    """Run the lookup by code many times; return its marker for pg_stat_statements."""
    with connection.cursor() as cursor:
        for value in range(times):
            # On the driver's cursor: the product's statements carry no
            # console tag.
            cursor.cursor.execute(
                f"SELECT note AS {table}_lookup FROM {table} WHERE code = %s",
                [value * 37 % 20000],
            )
            cursor.fetchall()
        flush_statistics(cursor)
    return f"{table}_lookup"


@pytest.fixture
def indexed_table(history_db):
    """Create a table of 20 000 rows with an index on code; drop it afterwards."""
    table = f"compare_probe_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (id int, code int, note text)")
        cursor.execute(
            f"INSERT INTO {table}"
            " SELECT g, g, repeat('x', 40) FROM generate_series(1, 20000) g"
        )
        cursor.execute(f"CREATE INDEX {table}_code ON {table} (code)")
        cursor.execute(f"ANALYZE {table}")
    yield table
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")


def windows_around_a_dropped_index(table, collected):
    """Collect, look up with the index, collect, drop it, look up, collect.

    Return (before, after, the lookup's queryid): the before window holds the
    second collection, the after window the third.
    """
    first = collected().snapshot
    marker = lookups(table, 60)
    second = collected().snapshot
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {table}_code")
    lookups(table, 60)
    third = collected().snapshot
    middle = second.taken_at + (third.taken_at - second.taken_at) / 2
    before = (first.taken_at + timedelta(microseconds=1), middle)
    after = (middle, third.taken_at + timedelta(seconds=1))
    return before, after, statement_row(marker)["queryid"]


def test_compare_page_names_the_query_a_dropped_index_made_slower(
    indexed_table, collected, admin_client
):
    before, after, queryid = windows_around_a_dropped_index(indexed_table, collected)

    response = admin_client.get(
        reverse(URL),
        {
            "before_from": before[0].isoformat(),
            "before_to": before[1].isoformat(),
            "after_from": after[0].isoformat(),
            "after_to": after[1].isoformat(),
            "threshold_pct": "50",
            "min_calls": "10",
        },
    )

    assert response.status_code == 200
    slower = {row["queryid"]: row for row in response.context["slower"].data.data}
    assert queryid in slower, list(slower)
    row = slower[queryid]
    assert row["before_calls"] == 60 and row["after_calls"] == 60
    assert row["after_mean_time"] > row["before_mean_time"] * 1.5
    assert indexed_table in response.content.decode()
    page = reverse("admin:monitoring_querystat_change", args=[quote(row["page_id"])])
    assert f'href="{page}"' in response.content.decode()
    assert admin_client.get(page).status_code == 200
    # Without the index every lookup scans the table: its scans jumped.
    scanned = {row["table"]: row for row in response.context["seq_scans"].data.data}
    assert scanned[f"public.{indexed_table}"]["after_seq_scan"] >= 60


def test_a_statement_of_one_window_is_new_or_gone(indexed_table, collected, history_db):
    before, after, queryid = windows_around_a_dropped_index(indexed_table, collected)
    # The after window alone against a window with no collection at all.
    empty = (before[0] - timedelta(hours=1), before[0])

    result = compare_windows(history_db, empty, after, 50, 10)
    assert queryid in {row["queryid"] for row in result.new}
    assert not result.slower

    result = compare_windows(history_db, before, empty, 50, 10)
    assert queryid in {row["queryid"] for row in result.gone}


def test_unchanged_speed_is_not_slower(indexed_table, collected, history_db):
    first = collected().snapshot
    marker = lookups(indexed_table, 60)
    second = collected().snapshot
    lookups(indexed_table, 60)
    third = collected().snapshot
    queryid = statement_row(marker)["queryid"]
    middle = second.taken_at + (third.taken_at - second.taken_at) / 2

    result = compare_windows(
        history_db, (first.taken_at, middle), (middle, third.taken_at), 400, 10
    )
    assert queryid not in {row["queryid"] for row in result.slower}


BAD_WINDOWS = [
    (
        {"before_to": "2026-01-01 09:00"},
        "The before window must end after it starts.",
    ),
    ({"after_from": "2026-13-45 25:00"}, "Enter a valid date/time."),
    (
        {"before_from": "2016-01-01 00:00", "before_to": "2026-01-01 00:00"},
        "longer than two years",
    ),
    ({"after_to": "2026-01-02\x0010:00"}, "contains a NUL byte"),
    ({"threshold_pct": "fast"}, "Enter a number."),
    ({"min_calls": "0"}, "greater than or equal to 1"),
]


@pytest.mark.parametrize(("change", "message"), BAD_WINDOWS)
def test_bad_windows_answer_400_with_the_form_error(admin_client, change, message):
    data = {
        "before_from": "2026-01-01 10:00",
        "before_to": "2026-01-01 11:00",
        "after_from": "2026-01-02 10:00",
        "after_to": "2026-01-02 11:00",
        **change,
    }
    response = admin_client.get(reverse(URL), data)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_default_windows_render(admin_client, history_db):
    response = admin_client.get(reverse(URL))
    assert response.status_code == 200
    assert "New statements" in response.content.decode()


def test_compare_page_needs_its_permission(client, staff_user, db):
    client.force_login(staff_user)
    assert client.get(reverse(URL)).status_code == 403
    staff_user.user_permissions.add(
        Permission.objects.get(codename="view_window_compare")
    )
    client.force_login(staff_user)
    assert client.get(reverse(URL)).status_code == 200


@pytest.mark.parametrize(
    "data",
    [
        {
            "before_from": "0001-01-01 00:00",
            "before_to": "0001-01-02 00:00",
            "after_from": "9999-12-30 00:00",
            "after_to": "9999-12-31 00:00",
            "threshold_pct": "100000",
            "min_calls": "1000000000",
        },
        {
            "before_from": "2026-01-01T10:00",
            "before_to": "2026-01-01T10:00:00.000001",
            "after_from": "2026-01-01T10:00:00+14:00",
            "after_to": "2026-01-01T10:00:00-12:00",
            "threshold_pct": "",
            "min_calls": "",
        },
    ],
)
def test_extreme_but_valid_windows_compare(admin_client, history_db, data):
    response = admin_client.get(reverse(URL), data)
    assert response.status_code == 200
