"""The query statistics and slow queries pages over a time window (?window=),
from real collections of real statements run in a second connection."""

import csv
import io
import json
import re
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from perfconsole.core.db import QUERY_TAG
from perfconsole.history.models import (
    Level,
    MonitoredDatabase,
    Snapshot,
    StatementText,
    query_stat_id,
)
from perfconsole.history.windows import statement_sums

from .conftest import analyze, statement_row

QUERIES = "admin:monitoring_querystat_changelist"
SLOW = "admin:monitoring_slowquery_changelist"
PRESET_LABELS = {
    "1h": "last hour",
    "6h": "last 6 hours",
    "24h": "last 24 hours",
    "7d": "last 7 days",
    "30d": "last 30 days",
}


@pytest.fixture
def table(history_db, second_connection):
    """Create a table only these tests name; return (connection, its name).

    The connection is a second session, untagged: its statements are the
    product's, not the console's. PostgreSQL 18 identifies a statement by its
    tables' names, so a name of its own keeps other tests' texts away.
    """
    conn = second_connection()
    name = f"winq_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, note text)")
    conn.execute(
        f"INSERT INTO {name} SELECT g, 'n' || g FROM generate_series(1, 2000) g"
    )
    analyze(conn, name)
    yield conn, name
    conn.execute(f"DROP TABLE IF EXISTS {name}")


def cheap(conn, name, times):
    """Run a cheap lookup times; return its marker (its alias)."""
    for value in range(times):
        conn.execute(f"SELECT count(*) AS {name}_a FROM {name} WHERE id > %s", [value])
    return f"{name}_a"


def costly(conn, name, times):
    """Run a lookup that reads the table 200 times over, times; return its marker.

    No table alias: PostgreSQL 18 identifies a statement by its tables'
    aliases, and an alias shared with another test's statement would merge
    the two.
    """
    for value in range(times):
        conn.execute(
            f"SELECT count(*) AS {name}_b FROM {name}, generate_series(1, 200)"
            f" WHERE {name}.id > %s",
            [value],
        )
    return f"{name}_b"


def custom_window(start, end):
    """Return the query parameters of a custom window [start, end)."""
    return {"window": "custom", "start": start.isoformat(), "end": end.isoformat()}


def two_windows(table, collected):
    """Collect, run A 3 times, collect, run A 5 and B 2 times, collect.

    Return (window parameters, {marker: (counters at the 2nd collection or
    None, counters at the 3rd)}). The window holds the third collection, the
    window of the same length before it the second (the first only sets the
    baseline).
    """
    conn, name = table
    collected()
    a = cheap(conn, name, 3)
    second_a = statement_row(a)
    second = collected().snapshot
    cheap(conn, name, 5)
    b = costly(conn, name, 2)
    third_a, third_b = statement_row(a), statement_row(b)
    third = collected().snapshot
    middle = second.taken_at + (third.taken_at - second.taken_at) / 2
    end = third.taken_at + timedelta(microseconds=1)
    # The window before is [second.taken_at - 1 µs, middle).
    return custom_window(middle, end), {a: (second_a, third_a), b: (None, third_b)}


def records(response):
    """Return the rows of the page's table, every page, in the page's order."""
    return list(response.context["table"].data)


def by_marker(response, marker):
    """Return the page's row whose text holds marker."""
    rows = [row for row in records(response) if marker in row["query"]]
    assert len(rows) == 1, [row["query"] for row in records(response)]
    return rows[0]


def html_row(response, marker):
    """Return the HTML of the table row showing marker."""
    body = response.content.decode()
    table = body.split('id="window-statements"')[1].split("<tbody")[1]
    rows = [row.split("</tr>")[0] for row in table.split("<tr")[1:]]
    rows = [row for row in rows if marker in row]
    assert len(rows) == 1, body
    return rows[0]


def delta(before, after, name):
    """Return what a counter grew by between two readings (None: from 0)."""
    return after[name] - (before[name] if before else 0)


def test_the_window_shows_the_deltas_and_the_change(table, collected, admin_client):
    window, readings = two_windows(table, collected)
    _conn, name = table

    response = admin_client.get(reverse(QUERIES), {**window, "q": name})

    assert response.status_code == 200
    (a, (second_a, third_a)), (b, (_none, third_b)) = readings.items()
    row = by_marker(response, a)
    for counter in ("calls", "rows", "shared_blks_hit", "shared_blks_read"):
        assert row[counter] == delta(second_a, third_a, counter), counter
    assert row["calls"] == 5
    assert row["previous_calls"] == 3
    assert row["calls_change"] == pytest.approx(66.7)
    time = ("total_exec_time", "total_plan_time")
    total = sum(delta(second_a, third_a, counter) for counter in time)
    assert row["total_time"] == pytest.approx(total)
    assert row["mean_time"] == pytest.approx(total / 5)
    before = sum(second_a[counter] for counter in time)
    assert row["total_time_change"] == round(100 * (total - before) / before, 1)
    cells = html_row(response, a)
    assert "+66.7 %" in cells
    assert f">{row['rows']:,}<" in cells

    row = by_marker(response, b)
    assert row["calls"] == third_b["calls"] == 2
    assert row["rows"] == third_b["rows"]
    assert row["shared_blks_hit"] == third_b["shared_blks_hit"]
    assert row["shared_blks_read"] == third_b["shared_blks_read"]
    total = third_b["total_exec_time"] + third_b["total_plan_time"]
    assert row["total_time"] == pytest.approx(total)
    assert row["calls_change"] is None and row["total_time_change"] is None
    # New in the window: every change column says so.
    assert html_row(response, b).count(">new<") == 3
    body = response.content.decode()
    assert "changes against the window before it" in body


def test_a_window_before_the_statements_is_empty(table, collected, admin_client):
    window, _readings = two_windows(table, collected)
    _conn, name = table
    long_ago = timezone.now() - timedelta(days=3)

    response = admin_client.get(
        reverse(QUERIES),
        {**custom_window(long_ago, long_ago + timedelta(hours=1)), "q": name},
    )

    assert response.status_code == 200
    assert records(response) == []
    assert "No statement ran in this window" in response.content.decode()


def test_it_sorts_by_total_time_then_as_asked(table, collected, admin_client):
    window, readings = two_windows(table, collected)
    _conn, name = table
    a, b = readings

    response = admin_client.get(reverse(QUERIES), {**window, "q": name})
    rows = records(response)
    # The default: where the time goes, largest first (the join costs more).
    assert [row["total_time"] for row in rows] == sorted(
        (row["total_time"] for row in rows), reverse=True
    )
    assert [b in row["query"] for row in rows] == [True, False]
    body = response.content.decode()
    assert body.index(b) < body.index(a)

    response = admin_client.get(
        reverse(QUERIES), {**window, "q": name, "sort": "-calls"}
    )
    assert [a in row["query"] for row in records(response)] == [True, False]
    response = admin_client.get(
        reverse(QUERIES), {**window, "q": name, "sort": "calls"}
    )
    assert [b in row["query"] for row in records(response)] == [True, False]
    # An unknown column is ignored, as on the lifetime page.
    response = admin_client.get(
        reverse(QUERIES), {**window, "q": name, "sort": "-nope;DROP"}
    )
    assert response.status_code == 200
    assert [b in row["query"] for row in records(response)] == [True, False]


def test_it_paginates_without_counting(table, collected, admin_client):
    window, readings = two_windows(table, collected)
    _conn, name = table
    a, b = readings

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(
            reverse(QUERIES), {**window, "q": name, "per_page": 1, "page": 2}
        )

    assert response.status_code == 200
    statements = [query["sql"] for query in captured.captured_queries]
    assert not any("COUNT(" in sql.upper() for sql in statements), statements
    shown = [row.record for row in response.context["table"].page.object_list]
    assert len(shown) == 1 and a in shown[0]["query"]
    body = response.content.decode()
    assert a in body and b not in body
    # A page past the end shows the first one, as on the lifetime page.
    response = admin_client.get(
        reverse(QUERIES), {**window, "q": name, "per_page": 1, "page": 99}
    )
    assert b in response.content.decode()


def test_a_row_leads_to_its_query_page_on_the_same_window(
    table, collected, admin_client
):
    window, readings = two_windows(table, collected)
    _conn, name = table
    a = next(iter(readings))
    response = admin_client.get(reverse(QUERIES), {**window, "q": name})
    row = by_marker(response, a)
    page = reverse(
        "admin:monitoring_querystat_change",
        args=[quote(query_stat_id(row["queryid"], row["userid"], row["toplevel"]))],
    )

    match = re.search(rf'<a href="({re.escape(page)}\?[^"]*)">', html_row(response, a))
    assert match, html_row(response, a)
    link = match.group(1).replace("&amp;", "&")
    # The window goes along, the filters stay on the list.
    assert urlsplit(link).path == page
    assert parse_qs(urlsplit(link).query) == {
        key: [value] for key, value in window.items()
    }
    detail = admin_client.get(link)

    assert detail.status_code == 200
    body = detail.content.decode()
    assert f"Over time: {response.context['window_label']}" in body
    data = json.loads(
        re.search(
            r'<script id="query-chart-data" type="application/json">(.*?)</script>',
            body,
            re.DOTALL,
        ).group(1)
    )
    start, end = response.context["start"], response.context["end"]
    assert (data["start"], data["end"]) == (
        int(start.timestamp()),
        int(end.timestamp()),
    )


@pytest.mark.django_db
def test_the_lifetime_page_leads_to_each_window(admin_client):
    url = reverse(QUERIES)

    response = admin_client.get(url, {"q": "orders", "min_calls": "2"})

    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="window-switch"' in body
    assert "<strong>lifetime</strong>" in body
    for key, label in PRESET_LABELS.items():
        # The filters go along; the page number would not fit another table.
        link = f'<a href="?q=orders&amp;min_calls=2&amp;window={key}">{label}</a>'
        assert link in body, link
        windowed = admin_client.get(url, {"q": "orders", "window": key})
        assert windowed.status_code == 200
        assert windowed.context["window_label"] == label
        assert f"<strong>{label}</strong>" in windowed.content.decode()
        assert '<a href="?q=orders">lifetime</a>' in windowed.content.decode()


BAD_WINDOWS = [
    ("window=custom&start=2026-01-02 10:00&end=2026-01-01 10:00", "To must be after"),
    ("window=custom&start=2026-13-45 10:00&end=2026-01-01", "valid date/time"),
    ("window=custom&start=2016-01-01&end=2026-01-01", "at most two years"),
    ("window=custom&start=2026-01-01", "needs both From and To"),
    ("window=2h", "Select a valid choice"),
    ("window=1h&min_calls=abc", "Min calls: Enter a whole number"),
    ("window=1h&min_mean_ms=-1", "greater than or equal to 0"),
    ("window=1h&min_mean_ms=nan", "Enter a number"),
    ("window=1h&page=0", "greater than or equal to 1"),
    ("window=1h&page=1e3", "Enter a whole number"),
    ("window=1h&per_page=100000", "less than or equal to 500"),
    ("window=1h&_export=xlsx", "Select a valid choice"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("name", [QUERIES, SLOW])
@pytest.mark.parametrize("query, message", BAD_WINDOWS)
def test_a_bad_window_or_filter_is_a_400_that_reads_nothing(
    admin_client, name, query, message
):
    snapshots, log = Snapshot.objects.count(), LogEntry.objects.count()

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(f"{reverse(name)}?{query}")

    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="window-errors"' in body
    assert message in body
    statements = [query["sql"] for query in captured.captured_queries]
    assert not any("history_" in sql for sql in statements), statements
    assert (Snapshot.objects.count(), LogEntry.objects.count()) == (snapshots, log)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "window=1h%00",
        "window=custom&start=2026-01-01%0010:00&end=2026-01-02",
        "window=1h&q=a%00b",
    ],
)
def test_a_nul_byte_is_a_400_that_reads_nothing(admin_client, query):
    # The console's middleware refuses it before any page (core.middleware).
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(f"{reverse(QUERIES)}?{query}")

    assert response.status_code == 400
    assert "NUL" in response.content.decode()
    statements = [query["sql"] for query in captured.captured_queries]
    assert not any("history_" in sql for sql in statements), statements


@pytest.mark.django_db
@pytest.mark.parametrize("name", [QUERIES, SLOW])
def test_only_who_may_view_the_statistics_sees_them_over_a_window(
    client, staff_user, django_user_model, name
):
    url = reverse(name)
    assert client.get(url, {"window": "1h"}).status_code == 302  # to the login

    client.force_login(staff_user)
    for query in ({"window": "1h"}, {"window": "1h", "_export": "csv"}):
        assert client.get(url, query).status_code == 403

    # The page's own view permission is enough: no history permission needed.
    viewer = django_user_model.objects.create_user(
        username="viewer", password="viewer-password", is_staff=True
    )
    model = name.split("_")[1]
    viewer.user_permissions.set(Permission.objects.filter(codename=f"view_{model}"))
    client.force_login(viewer)
    assert client.get(url, {"window": "1h"}).status_code == 200


def test_query_text_is_escaped(table, collected, admin_client):
    conn, name = table
    collected()
    conn.execute(
        f"SELECT reverse(note) /* <script>alert('winq')</script> */"
        f" AS {name}_xss FROM {name} WHERE id = %s",
        [1],
    )
    collected()

    response = admin_client.get(reverse(QUERIES), {"window": "1h", "q": f"{name}_xss"})

    body = response.content.decode()
    assert f"{name}_xss" in body
    assert "<script>alert(" not in body
    assert "&lt;script&gt;alert(" in body


def test_the_consoles_own_statements_are_left_out_unless_asked(
    table, collected, admin_client
):
    _conn, name = table
    collected()
    # Django's connection tags every statement as the console's own.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) AS {name}_own FROM {name}")
    collected()
    own = StatementText.objects.get(query__contains=f"{name}_own")
    assert QUERY_TAG in own.query
    url = reverse(QUERIES)

    hidden = admin_client.get(url, {"window": "1h", "q": f"{name}_own"})
    shown = admin_client.get(url, {"window": "1h", "q": f"{name}_own", "console": "on"})

    assert records(hidden) == []
    assert [row["statement_id"] for row in records(shown)] == [own.id]
    assert f"{name}_own" in html_row(shown, f"{name}_own")


def test_it_filters_by_calls_mean_user_and_slowness(table, collected, admin_client):
    conn, name = table
    collected()
    a, b = cheap(conn, name, 5), costly(conn, name, 2)
    collected()
    url = reverse(QUERIES)

    def shown(**filters):
        response = admin_client.get(url, {"window": "1h", "q": name, **filters})
        assert response.status_code == 200
        rows = records(response)
        return [m for m in (a, b) if any(m in row["query"] for row in rows)]

    assert shown() == [a, b]
    assert shown(min_calls="3") == [a]
    assert shown(min_calls="6") == []
    assert shown(user=connection.settings_dict["USER"]) == [a, b]
    assert shown(user="nobody") == []
    assert shown(min_mean_ms="100000") == []
    # Slow: mean and calls at or above the settings (100 calls by default).
    assert shown(slow="on") == []
    assert shown(q=f"{name}_B") == [b]  # the search ignores case


def test_it_exports_the_windowed_table_as_csv(table, collected, admin_client):
    window, readings = two_windows(table, collected)
    _conn, name = table
    a, b = readings

    response = admin_client.get(
        reverse(QUERIES), {**window, "q": name, "_export": "csv"}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="query_stats_custom.csv"' in response["Content-Disposition"]
    header, *rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert header[:5] == [
        "Query",
        "User",
        "Calls",
        "Calls change (%)",
        "Total (ms)",
    ]
    assert "Blocks read" in header
    # Every row, whole texts, raw numbers, in the page's order.
    assert [b in row[0] for row in rows] == [True, False]
    cells = dict(zip(header, rows[1], strict=True))
    assert a in cells["Query"] and "WHERE id > $1" in cells["Query"]
    assert cells["Calls"] == "5" and cells["Calls change (%)"] == "66.7"
    new = dict(zip(header, rows[0], strict=True))
    assert new["Calls"] == "2" and new["Calls change (%)"] == ""


def test_the_slow_page_over_a_window_shows_what_was_slow_in_it(
    table, collected, admin_client
):
    conn, name = table
    collected()
    cheap(conn, name, 3)
    conn.execute(f"SELECT pg_sleep(%s) AS {name}_slow", [1.05])
    collected()
    url = reverse(SLOW)

    lifetime = admin_client.get(url)
    response = admin_client.get(url, {"window": "1h", "q": name})

    assert 'id="window-switch"' in lifetime.content.decode()
    assert response.status_code == 200
    rows = records(response)
    assert [f"{name}_slow" in row["query"] for row in rows] == [True]
    assert rows[0]["mean_time"] >= 1000
    # Its page is the query's page: the slow page's own needs a slow lifetime mean.
    page = reverse(
        "admin:monitoring_querystat_change", args=[quote(rows[0]["page_id"])]
    )
    assert f'href="{page}?window=1h"' in response.content.decode()


def test_the_page_runs_as_many_queries_for_many_statements_as_for_one(
    table, collected, admin_client, django_assert_max_num_queries
):
    conn, name = table
    collected()
    cheap(conn, name, 1)
    collected()
    url = reverse(QUERIES)
    query = {"window": "1h", "q": name, "per_page": "500"}
    with CaptureQueriesContext(connection) as few:
        assert len(records(admin_client.get(url, query))) == 1
    for columns in range(2, 32):
        # A statement shape of its own per width of the select list.
        select = ", ".join(["count(*)"] * columns)
        conn.execute(f"SELECT {columns} AS {name}_many, {select} FROM {name}")
    collected()

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(url, query)

    assert len(records(response)) == 31
    assert response.content.decode().count(f"{name}_many") == 30


def test_the_window_reads_use_the_index(history_db):
    """EXPLAIN statement_sums' SQL over a day of one-minute rows: no Seq Scan.

    The volume (a day of 50 statements a minute, as a busy server makes) is
    written straight into the table, for a database of its own: the plan
    depends on the table's size, and real collections in a test make a few
    rows only, which a sequential scan reads as fast.
    """
    database = MonitoredDatabase.objects.create(name=f"winq-plan-{uuid.uuid4().hex}")
    # The rows' last minute and the window's end from one clock reading: an
    # end read later could cross a minute and leave the hour's first row out.
    last_minute = timezone.now().replace(second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO history_statementdelta (database_id, level, period_start,"
            " statement_id, calls, rows, total_exec_time, total_plan_time,"
            " shared_blks_hit, shared_blks_read, shared_blks_dirtied,"
            " shared_blks_written, temp_blks_read, temp_blks_written,"
            " blk_read_time, blk_write_time, wal_bytes)"
            " SELECT %s, %s, %s::timestamptz - m * interval '1 minute',"
            " s, 1 + s, s, 0.5 * s, 0, 10, 1, 0, 0, 0, 0, 0, 0, 0"
            " FROM generate_series(0, 1439) m, generate_series(1, 50) s",
            [database.id, int(Level.RAW), last_minute],
        )
        cursor.execute("ANALYZE history_statementdelta")
    end = last_minute + timedelta(seconds=30)

    with CaptureQueriesContext(connection) as captured:
        sums = statement_sums(database, end - timedelta(hours=1), end)

    assert len(sums) == 50 and sums[1]["calls"] == 2 * 60
    (sql,) = [
        q["sql"] for q in captured.captured_queries if "statementdelta" in q["sql"]
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    scans = [
        node["Node Type"]
        for node in plan_nodes(plan[0]["Plan"])
        if node.get("Relation Name") == "history_statementdelta"
    ]
    assert scans, plan
    assert "Seq Scan" not in scans, scans


def plan_nodes(node):
    """Yield a plan node and every node under it."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)
