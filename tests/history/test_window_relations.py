"""The index and table pages over a time window (?window=), and a table's
charts, from real collections of real scans and writes in a second session."""

import csv
import json
import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from perfconsole.core.formatting import timestamp
from perfconsole.history.models import Level, MonitoredDatabase
from perfconsole.history.relations import duration, first_rows, gauges_before

from .conftest import analyze, flush_statistics

TABLES = "admin:monitoring_tableperformance_changelist"
INDEXES = "admin:monitoring_indexusage_changelist"
HISTORY = "admin:monitoring_tableperformance_history"
COUNTERS = (
    "seq_scan",
    "seq_tup_read",
    "idx_scan",
    "n_tup_ins",
    "n_tup_upd",
    "n_tup_del",
    "vacuums",
    "analyzes",
)


@pytest.fixture
def relation(history_db, second_connection, settings):
    """Create a table only these tests name, with an index no query uses.

    Return (a second session, untagged: the product's; the table's name).
    Sizes are read at every collection.
    """
    settings.STATS_SIZES_INTERVAL_SECONDS = 0
    conn = second_connection()
    name = f"winrel_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, note text)")
    conn.execute(f"CREATE INDEX {name}_note_idx ON {name} (note)")
    conn.execute(
        f"INSERT INTO {name} SELECT g, 'n' || g FROM generate_series(1, 2000) g"
    )
    analyze(conn, name)
    yield conn, name
    conn.execute(f"DROP TABLE IF EXISTS {name}")


def work(conn, name, *, seq, lookups, inserts, first_id):
    """Scan and write the table for real, then flush its counters."""
    for _ in range(seq):
        # No index holds both columns: a sequential scan, not an index-only one.
        conn.execute(f"SELECT count(*) FROM {name} WHERE length(note) + id < 0")
    for value in range(lookups):
        conn.execute(f"SELECT note FROM {name} WHERE id = %s", [value + 1])
    conn.execute(
        f"INSERT INTO {name} SELECT g, repeat('x', 200) FROM"
        " generate_series(%s::int, %s::int) g",
        [first_id, first_id + inserts - 1],
    )
    conn.execute(f"UPDATE {name} SET note = 'u' WHERE id <= 10")
    conn.execute(f"DELETE FROM {name} WHERE id BETWEEN 11 AND 15")
    # VACUUM and ANALYZE set the live and dead counts outright: the writes'
    # pending counts go in first (see analyze in conftest.py).
    flush_statistics(conn)
    conn.execute(f"VACUUM (ANALYZE) {name}")
    flush_statistics(conn)


def reading(name):
    """Read the table's counters and size from PostgreSQL, apart from the page."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.seq_scan, t.seq_tup_read, coalesce(t.idx_scan, 0) AS idx_scan,"
            " t.n_tup_ins, t.n_tup_upd, t.n_tup_del,"
            " t.vacuum_count + t.autovacuum_count AS vacuums,"
            " t.analyze_count + t.autoanalyze_count AS analyzes,"
            " t.n_live_tup, t.n_dead_tup,"
            " pg_relation_size(t.relid) + pg_indexes_size(t.relid)"
            " + coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)"
            " AS size"
            " FROM pg_stat_user_tables t JOIN pg_class c ON c.oid = t.relid"
            " WHERE t.schemaname = 'public' AND t.relname = %s",
            [name],
        )
        names = [column.name for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def custom_window(start, end):
    """Return the query parameters of a custom window [start, end)."""
    return {"window": "custom", "start": start.isoformat(), "end": end.isoformat()}


@pytest.fixture
def three_collections(relation, collected):
    """Collect, work, collect, work more, collect; read PostgreSQL at each.

    Return (window parameters, readings at the 1st, 2nd and 3rd collection).
    The window holds the third collection; the window of the same length
    before it the second (the first only sets the baselines).
    """
    conn, name = relation
    first_reading = reading(name)
    collected()
    work(conn, name, seq=2, lookups=3, inserts=3000, first_id=10_001)
    second_reading = reading(name)
    second = collected().snapshot
    work(conn, name, seq=5, lookups=7, inserts=6000, first_id=20_001)
    third_reading = reading(name)
    third = collected().snapshot
    middle = second.taken_at + (third.taken_at - second.taken_at) / 2
    window = custom_window(middle, third.taken_at + timedelta(microseconds=1))
    return window, (first_reading, second_reading, third_reading)


def records(response):
    """Return the rows of the page's table, every page, in the page's order."""
    return list(response.context["table"].data)


def row_of(response, field, value):
    """Return the page's row whose field is value."""
    rows = [row for row in records(response) if row[field] == value]
    assert len(rows) == 1, [row[field] for row in records(response)]
    return rows[0]


def html_row(response, text):
    """Return the HTML of the table row showing text."""
    body = response.content.decode()
    rows = [row for row in body.split("<tr")[1:] if text in row]
    assert len(rows) == 1, body
    return rows[0]


def test_the_tables_page_shows_the_windows_deltas_and_growth(
    relation, three_collections, admin_client
):
    _conn, name = relation
    window, (first, second, third) = three_collections

    response = admin_client.get(reverse(TABLES), {**window, "table": name})

    assert response.status_code == 200
    row = row_of(response, "table_name", name)
    for counter in COUNTERS:
        assert row[counter] == third[counter] - second[counter], counter
    assert row["seq_scan"] >= 5 and row["n_tup_ins"] == 6000
    previous = second["seq_scan"] - first["seq_scan"]
    assert row["previous_seq_scan"] == previous
    change = round(100 * (row["seq_scan"] - previous) / previous, 1)
    assert row["seq_scan_change"] == change
    scans = row["seq_scan"] + row["idx_scan"]
    assert row["seq_scan_ratio"] == pytest.approx(100 * row["seq_scan"] / scans)
    assert (row["n_live_tup"], row["n_dead_tup"]) == (
        third["n_live_tup"],
        third["n_dead_tup"],
    )
    # The size at the second collection is the last before the window.
    assert row["size_bytes"] == third["size"]
    assert row["growth_bytes"] == third["size"] - second["size"] > 0
    cells = html_row(response, f"public.{name}<")
    assert f"{change:+,} %" in cells
    assert f">{row['n_tup_ins']:,}<" in cells
    body = response.content.decode()
    assert 'id="window-switch"' in body and "<strong>custom</strong>" in body
    # A table no collection saw change kept the size of its first reading.
    response = admin_client.get(reverse(TABLES), {**window, "table": "studies"})
    studies = row_of(response, "table_name", "studies")
    assert studies["growth_bytes"] == 0
    assert studies["size_bytes"] == reading("studies")["size"]


def test_a_table_without_activity_in_the_window_shows_noughts(
    relation, three_collections, admin_client
):
    _conn, name = relation
    window, (_first, _second, third) = three_collections
    long_ago = timezone.now() - timedelta(days=3)

    response = admin_client.get(
        reverse(TABLES),
        {**custom_window(long_ago, long_ago + timedelta(hours=1)), "table": name},
    )

    assert response.status_code == 200
    row = row_of(response, "table_name", name)
    assert all(row[counter] == 0 for counter in COUNTERS)
    # Before the history began: no size is known, so no growth either.
    assert row["size_bytes"] is None and row["growth_bytes"] is None


def test_the_tables_page_leads_with_growth_and_sorts_largest_first(
    relation, three_collections, admin_client
):
    _conn, name = relation
    window, _readings = three_collections

    response = admin_client.get(reverse(TABLES), {**window, "console": "on"})

    rows = records(response)
    growths = [row["growth_bytes"] for row in rows if row["growth_bytes"] is not None]
    assert growths == sorted(growths, reverse=True)
    assert rows[0]["table_name"] == name
    # A numeric column's first click sorts largest first.
    body = response.content.decode()
    assert "sort=-seq_scan" in body
    response = admin_client.get(reverse(TABLES), {**window, "sort": "-seq_scan"})
    scans = [row["seq_scan"] for row in records(response)]
    assert scans == sorted(scans, reverse=True)


def test_the_consoles_own_tables_stay_hidden_unless_asked(
    relation, three_collections, admin_client
):
    window, _readings = three_collections

    hidden = admin_client.get(reverse(TABLES), window)
    shown = admin_client.get(reverse(TABLES), {**window, "console": "on"})

    assert "history_counterdelta" not in {r["table_name"] for r in records(hidden)}
    assert "history_counterdelta" in {r["table_name"] for r in records(shown)}
    indexes = admin_client.get(reverse(INDEXES), window)
    assert "history_counterdelta" not in {r["table_name"] for r in records(indexes)}


def test_an_index_unscanned_through_the_window_is_unused_for_its_length(
    relation, collected, admin_client
):
    conn, name = relation
    first = collected().snapshot
    work(conn, name, seq=1, lookups=4, inserts=10, first_id=10_001)
    collected()
    start = timezone.now()
    work(conn, name, seq=1, lookups=4, inserts=10, first_id=20_001)
    conn.execute(f"CREATE INDEX {name}_late_idx ON {name} (note, id)")
    last = collected().snapshot
    window = custom_window(start, last.taken_at + timedelta(microseconds=1))

    response = admin_client.get(reverse(INDEXES), {**window, "table": name})

    assert response.status_code == 200
    unused = row_of(response, "index_name", f"{name}_note_idx")
    assert unused["idx_scan"] == 0 and unused["watch_rank"] == 0
    length = last.taken_at + timedelta(microseconds=1) - start
    assert unused["watch"] == f"unused for {duration(length)}"
    late = row_of(response, "index_name", f"{name}_late_idx")
    assert late["idx_scan"] == 0 and late["watch_rank"] == 1
    seen = timestamp(last.taken_at)
    assert late["watch"] == f"no scans since {seen} (first seen)"
    scanned = row_of(response, "index_name", f"{name}_pkey")
    assert scanned["idx_scan"] >= 4 and scanned["watch_rank"] == 4
    assert [row["index_name"] for row in records(response)][:2] == [
        f"{name}_note_idx",
        f"{name}_late_idx",
    ]
    assert "pc-status-warning" in html_row(response, f"{name}_note_idx<")
    assert "unused for" not in html_row(response, f"{name}_late_idx<")

    # A window reaching back before the history began: watched only since.
    earlier = custom_window(first.taken_at - timedelta(hours=1), last.taken_at)
    response = admin_client.get(reverse(INDEXES), {**earlier, "table": name})
    unused = row_of(response, "index_name", f"{name}_note_idx")
    began = timestamp(first.taken_at)
    assert unused["watch_rank"] == 2
    assert unused["watch"] == f"no scans since {began} (watched only since then)"

    # A preset window says its length in words; "not scanned" keeps those.
    response = admin_client.get(
        reverse(INDEXES), {"window": "1h", "table": name, "unused": "on"}
    )
    names = {row["index_name"] for row in records(response)}
    assert names == {f"{name}_note_idx", f"{name}_late_idx"}
    unused = row_of(response, "index_name", f"{name}_note_idx")
    assert unused["watch"] == "no scans since " + began + " (watched only since then)"


def test_an_index_the_history_never_saw_is_not_called_unused(
    relation, collected, admin_client
):
    conn, name = relation
    collected()
    collected()
    conn.execute(f"CREATE INDEX {name}_new_idx ON {name} (note, id)")

    response = admin_client.get(reverse(INDEXES), {"window": "1h", "table": name})

    row = row_of(response, "index_name", f"{name}_new_idx")
    assert (row["watch_rank"], row["watch"]) == (3, "not collected yet")


@pytest.mark.django_db
@pytest.mark.parametrize("page", [TABLES, INDEXES, HISTORY])
@pytest.mark.parametrize(
    "query, message",
    [
        (
            "window=custom&start=2026-01-02 10:00&end=2026-01-01 10:00",
            "To must be after From",
        ),
        ("window=custom&start=2026-13-45 10:00&end=2026-01-01", "valid date"),
        ("window=custom&start=2016-01-01&end=2026-01-01", "at most two years"),
        ("window=10y", "Select a valid choice"),
    ],
)
def test_a_bad_window_is_a_400_with_the_reason(admin_client, page, query, message):
    response = admin_client.get(reverse(page) + "?table=x&" + query)

    assert response.status_code == 400
    assert message in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("page", [TABLES, INDEXES])
def test_a_bad_filter_over_a_window_is_a_400(admin_client, page):
    response = admin_client.get(reverse(page), {"window": "1h", "min_size_mb": "a"})

    assert response.status_code == 400
    assert "Enter a number" in response.content.decode()


def test_only_who_may_view_the_statistics_sees_them_over_a_window(
    client, staff_user, relation, collected
):
    collected()
    client.force_login(staff_user)
    key = f"public.{relation[1]}"

    assert client.get(reverse(TABLES), {"window": "1h"}).status_code == 403
    assert client.get(reverse(INDEXES), {"window": "1h"}).status_code == 403
    assert client.get(reverse(HISTORY), {"table": key}).status_code == 403

    staff_user.user_permissions.add(Permission.objects.get(codename="view_indexusage"))
    assert client.get(reverse(INDEXES), {"window": "1h"}).status_code == 200
    assert client.get(reverse(HISTORY), {"table": key}).status_code == 403
    staff_user.user_permissions.add(
        Permission.objects.get(codename="view_tableperformance")
    )
    assert client.get(reverse(TABLES), {"window": "1h"}).status_code == 200
    assert client.get(reverse(HISTORY), {"table": key}).status_code == 200


def test_names_are_escaped(history_db, second_connection, collected, admin_client):
    conn = second_connection()
    name = f"winrel_<b>{uuid.uuid4().hex[:6]}</b>"
    index = f"{name}_<i>idx</i>"
    conn.execute(f'CREATE TABLE "{name}" (id int, note text)')
    conn.execute(f'CREATE INDEX "{index}" ON "{name}" (note)')
    try:
        collected()
        conn.execute(f"INSERT INTO \"{name}\" VALUES (1, 'a')")
        flush_statistics(conn)
        collected()
        tables = admin_client.get(reverse(TABLES), {"window": "1h"})
        indexes = admin_client.get(reverse(INDEXES), {"window": "1h"})
        key = f'public."{name}"'
        chart = admin_client.get(reverse(HISTORY), {"table": key})
    finally:
        conn.execute(f'DROP TABLE IF EXISTS "{name}"')

    for response in (tables, indexes, chart):
        assert response.status_code == 200
        body = response.content.decode()
        assert "<b>" not in body and "<i>idx" not in body
        assert "&lt;b&gt;" in body
    assert row_of(tables, "table_name", name)["n_tup_ins"] == 1
    assert "&lt;i&gt;idx&lt;/i&gt;" in indexes.content.decode()


def test_the_pages_run_as_many_queries_for_many_tables_as_for_one(
    relation, collected, admin_client, django_assert_max_num_queries
):
    conn, name = relation
    collected()
    work(conn, name, seq=1, lookups=1, inserts=10, first_id=10_001)
    collected()
    counted = {}
    for page in (TABLES, INDEXES):
        with CaptureQueriesContext(connection) as few:
            response = admin_client.get(reverse(page), {"window": "1h", "q": name})
            assert len(records(response)) >= 1
        counted[page] = len(few.captured_queries)
    for number in range(20):
        conn.execute(f"CREATE TABLE {name}_{number} (id int PRIMARY KEY, note text)")
        conn.execute(f"CREATE INDEX ON {name}_{number} (note)")
        conn.execute(f"INSERT INTO {name}_{number} VALUES (1, 'a')")
    flush_statistics(conn)
    collected()
    try:
        for page, expected in ((TABLES, 21), (INDEXES, 42)):
            with django_assert_max_num_queries(counted[page]):
                response = admin_client.get(
                    reverse(page), {"window": "1h", "q": name, "per_page": "500"}
                )
            assert len(records(response)) >= expected
    finally:
        for number in range(20):
            conn.execute(f"DROP TABLE IF EXISTS {name}_{number}")


def chart_json(response, element_id):
    """Return the JSON a page rendered with json_script under element_id."""
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.DOTALL,
    )
    assert match, f"no {element_id} in the page"
    return json.loads(match.group(1))


def series(data, chart_id, label):
    """Return the values of one series of one chart."""
    chart = next(c for c in data["charts"] if c["id"] == chart_id)
    return next(s["values"] for s in chart["series"] if s["label"] == label)


def test_a_tables_row_leads_to_its_charts_over_the_window(
    relation, three_collections, admin_client
):
    _conn, name = relation
    _window, (_first, second, third) = three_collections
    # The last hour holds the three collections.
    page = admin_client.get(reverse(TABLES), {"window": "1h", "table": name})
    link = re.search(
        r'href="([^"]+)">public\.' + name + "<", html_row(page, f"public.{name}<")
    )
    assert link and link.group(1).startswith(reverse(HISTORY) + "?")

    response = admin_client.get(link.group(1).replace("&amp;", "&"))

    assert response.status_code == 200
    data = chart_json(response, "table-chart-data")
    assert data["times"]
    sizes = [
        sum(values)
        for values in zip(
            *(series(data, "t_size", label) for label in ("table", "indexes", "TOAST")),
            strict=True,
        )
        if None not in values
    ]
    # The first collection stores no size: the second's, then the third's.
    assert sizes == [second["size"], third["size"]]
    scans = [value for value in series(data, "t_scans", "sequential") if value]
    assert len(scans) == 2, data
    live = [value for value in series(data, "t_rows", "live") if value is not None]
    assert live[-1] == third["n_live_tup"]
    body = response.content.decode()
    assert "every table over this window" in body


@pytest.mark.django_db
def test_the_charts_of_a_table_not_in_the_database_are_a_404(admin_client):
    response = admin_client.get(reverse(HISTORY), {"table": "public.no_such_table"})

    assert response.status_code == 404


def test_the_lifetime_pages_lead_to_each_window(admin_client, history_db):
    for page in (TABLES, INDEXES):
        body = admin_client.get(reverse(page)).content.decode()
        assert 'id="window-switch"' in body
        assert 'href="?window=7d"' in body


def plan_nodes(node):
    """Yield a plan node and every node below it."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def test_the_relation_reads_use_the_history_index(history_db):
    """EXPLAIN the first-row and last-size reads over a week of history.

    The volume (a week of hourly rows for 100 tables and indexes, six hours
    of one-minute rows) is written straight into the table, for a database of
    its own: the plan depends on the table's size, which real collections in
    a test do not reach.
    """
    database = MonitoredDatabase.objects.create(name=f"winrel-{uuid.uuid4().hex}")
    with connection.cursor() as cursor:
        for level, step, count in (
            (Level.HOURLY, "1 hour", 168),
            (Level.RAW, "1 minute", 360),
        ):
            cursor.execute(
                "INSERT INTO history_counterdelta (database_id, level, period_start,"
                " source, key, counters, gauges)"
                " SELECT %s, %s, date_trunc('hour', now()) - m * %s::interval,"
                " s.source, 'public.t' || k,"
                " '{\"idx_scan\": 1}', '{\"table_bytes\": 8192}'"
                " FROM generate_series(1, %s) m, generate_series(1, 100) k,"
                " (VALUES ('index'), ('size'), ('io')) s(source)",
                [database.id, int(level), step, count],
            )
        cursor.execute("ANALYZE history_counterdelta")
    keys = [f"public.t{k}" for k in range(1, 101)]

    with CaptureQueriesContext(connection) as captured:
        first = first_rows(database, "index", keys)
        sizes = gauges_before(database, "size", keys, timezone.now())

    assert len(first) == 100 and len(sizes) == 100
    for query in captured.captured_queries:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {query['sql']}")
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        nodes = [
            node
            for node in plan_nodes(plan[0]["Plan"])
            if node.get("Relation Name") == "history_counterdelta"
        ]
        assert nodes and all(
            node.get("Index Name") == "history_relation_by_key" for node in nodes
        ), [(node["Node Type"], node.get("Index Name")) for node in nodes]


@pytest.mark.parametrize("page", [TABLES, INDEXES])
def test_a_locked_history_is_a_503_that_says_so(
    relation, collected, second_connection, admin_client, page
):
    collected()
    blocker = second_connection(autocommit=False)
    blocker.execute("LOCK TABLE history_counterdelta IN ACCESS EXCLUSIVE MODE")
    try:
        response = admin_client.get(reverse(page), {"window": "1h"})
    finally:
        blocker.rollback()

    assert response.status_code == 503
    assert "lock" in response.content.decode().lower()


def test_the_tables_over_a_window_export_as_csv(
    relation, three_collections, admin_client
):
    _conn, name = relation
    window, (_first, second, third) = three_collections

    response = admin_client.get(
        reverse(TABLES), {**window, "table": name, "_export": "csv"}
    )

    assert response.status_code == 200
    lines = response.content.decode().splitlines()
    header, *rows = list(csv.reader(lines))
    assert "Growth (bytes)" in header and len(rows) == 1
    assert rows[0][header.index("Growth (bytes)")] == str(
        third["size"] - second["size"]
    )
