"""Admin pages: access, filters, sorting, lazy pages, CSV and query detail."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from perfconsole.monitoring.models import QueryStat

from .conftest import flush_statistics

PAGES = [
    "admin:monitoring_querystat_changelist",
    "admin:monitoring_slowquery_changelist",
    "admin:monitoring_indexusage_changelist",
    "admin:monitoring_tableperformance_changelist",
    "admin:monitoring_settingsreview_changelist",
]


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_it_renders_every_page_for_staff_with_the_permission(client, viewer, name):
    client.force_login(viewer)
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert b'id="content-main"' in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_it_redirects_anonymous_users_to_the_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_it_refuses_staff_without_the_permission(client, staff_user, name):
    client.force_login(staff_user)
    assert client.get(reverse(name)).status_code == 403


@pytest.mark.django_db
def test_it_lists_the_pages_in_the_admin_index(admin_client):
    body = admin_client.get(reverse("admin:index")).content.decode()
    for name in PAGES:
        assert reverse(name) in body
    # Read-only: no "Add" link for any statistics view.
    assert reverse("admin:monitoring_querystat_changelist") + "add/" not in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, query",
    [
        ("admin:monitoring_querystat_changelist", "min_calls=abc"),
        ("admin:monitoring_querystat_changelist", "min_mean_ms=-1"),
        ("admin:monitoring_querystat_changelist", "page=0"),
        ("admin:monitoring_querystat_changelist", "per_page=100000"),
        ("admin:monitoring_querystat_changelist", "_export=xlsx"),
        ("admin:monitoring_querystat_changelist", "q=" + "x" * 300),
        ("admin:monitoring_indexusage_changelist", "min_size_mb=ten"),
        ("admin:monitoring_tableperformance_changelist", "min_dead_tuples=-5"),
        ("admin:monitoring_tableperformance_changelist", "page=1e3"),
    ],
)
def test_it_answers_bad_filters_with_400_and_the_form_errors(admin_client, name, query):
    response = admin_client.get(f"{reverse(name)}?{query}")
    assert response.status_code == 400
    assert b"Please correct the filters above." in response.content
    assert b'class="errornote"' in response.content


@pytest.mark.django_db
def test_it_ignores_an_unknown_sort_column_and_a_page_past_the_end(admin_client):
    url = reverse("admin:monitoring_tableperformance_changelist")
    response = admin_client.get(url + "?sort=-not_a_column;DROP&page=99999&console=on")
    assert response.status_code == 200
    assert b"auth_user" in response.content


@pytest.mark.django_db
def test_it_paginates_without_counting(admin_client):
    url = reverse("admin:monitoring_indexusage_changelist")
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(url + "?per_page=5&page=2&sort=index_name")
    assert response.status_code == 200
    statements = [query["sql"] for query in captured.captured_queries]
    view_reads = [sql for sql in statements if "index_usage_stats" in sql]
    assert view_reads, statements
    assert not any("COUNT(" in sql.upper() for sql in view_reads)
    # Every read of the view carries the tag, inside the statement.
    assert all(sql.startswith("SELECT /* perfconsole */") for sql in view_reads)
    assert "LIMIT 6 OFFSET 5" in view_reads[-1]  # one page plus a look-ahead row


@pytest.mark.django_db(transaction=True)
def test_it_filters_and_exports_csv(admin_client, scratch):
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.big (id int PRIMARY KEY, v text)")
    conn.execute(f"CREATE TABLE {schema}.small (id int)")
    conn.execute(
        f"INSERT INTO {schema}.big SELECT g, repeat('x', 200)"
        " FROM generate_series(1, 20000) g"
    )
    conn.execute(f"CREATE INDEX big_v ON {schema}.big (v)")
    flush_statistics(conn)
    url = reverse("admin:monitoring_tableperformance_changelist")

    page = admin_client.get(f"{url}?schema={schema}&min_size_mb=1")
    assert page.status_code == 200
    assert b">big<" in page.content and b">small<" not in page.content

    export = admin_client.get(f"{url}?schema={schema}&sort=table_name&_export=csv")
    assert export.status_code == 200
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    header, body = rows[0], rows[1:]
    # Raw numbers, their unit in the header.
    assert header[:3] == ["Schema", "Table", "Size (bytes)"]
    assert "Heap hit (%)" in header  # every column, not only the main ones
    assert [row[1] for row in body] == ["big", "small"]
    live = header.index("Live")
    assert body[0][live] == "20000"  # raw numbers, not "20,000"

    indexes = admin_client.get(
        reverse("admin:monitoring_indexusage_changelist")
        + f"?schema={schema}&unused=on&_export=csv"
    )
    names = [row[2] for row in csv.reader(io.StringIO(indexes.content.decode()))]
    assert names == ["Index", "big_pkey", "big_v"]


@pytest.mark.django_db(transaction=True)
def test_csv_cells_a_spreadsheet_would_run_are_made_inert(admin_client, scratch):
    conn, schema = scratch
    conn.execute(f'CREATE TABLE {schema}."=HYPERLINK(1)" (id int)')
    conn.execute(f'CREATE TABLE {schema}."-minus" (id int)')
    conn.execute(f"CREATE TABLE {schema}.plain (id int)")
    url = reverse("admin:monitoring_tableperformance_changelist")

    export = admin_client.get(f"{url}?schema={schema}&sort=table_name&_export=csv")

    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert sorted(row[1] for row in rows[1:]) == ["'-minus", "'=HYPERLINK(1)", "plain"]


@pytest.mark.django_db(transaction=True)
def test_it_filters_queries_by_calls_mean_and_user(admin_client, second_connection):
    conn = second_connection()
    for _ in range(4):
        conn.execute("SELECT sha256('q'::bytea) AS monitoring_filter_marker")
    url = reverse("admin:monitoring_querystat_changelist")
    user = connection.settings_dict["USER"]
    found = admin_client.get(
        f"{url}?q=monitoring_filter_marker&min_calls=4&user={user}"
    )
    shown = b"<code>SELECT sha256($1::bytea) AS monitoring_filter_marker</code>"
    assert shown in found.content
    for query in ("min_calls=5", "user=nobody", "min_mean_ms=100000", "slow=on"):
        other = admin_client.get(f"{url}?q=monitoring_filter_marker&{query}")
        assert other.status_code == 200
        assert shown not in other.content, query


@pytest.mark.django_db(transaction=True)
def test_it_shows_a_query_with_its_counters_and_plan(admin_client, scratch):
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.shown_items (id int PRIMARY KEY, name text)")
    conn.execute(
        f"INSERT INTO {schema}.shown_items SELECT g, 'n'"
        " FROM generate_series(1, 5000) g"
    )
    conn.execute(f"ANALYZE {schema}.shown_items")
    conn.execute(f"SELECT name FROM {schema}.shown_items WHERE id = 42")
    stat = QueryStat.objects.get(query__contains=f"{schema}.shown_items WHERE id")
    url = reverse("admin:monitoring_querystat_change", args=[stat.pk])

    body = admin_client.get(url).content.decode()
    assert f"SELECT name FROM {schema}.shown_items WHERE id = $1" in body
    assert "Share of total time (%)" in body and "Calls" in body
    # Planning runs functions: never on GET, only on an explicit POST.
    assert "Index Scan" not in body
    assert "Explain (plan only, never run)" in body

    body = admin_client.post(url).content.decode()
    # GENERIC_PLAN on 16+, PREPARE + force_generic_plan before.
    assert "generic plan" in body
    assert "Index Scan using shown_items_pkey on shown_items" in body
    assert "actual time" not in body  # EXPLAIN only, never ANALYZE
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone() == (0,)


@pytest.mark.django_db(transaction=True)
def test_it_explains_only_select_statements(admin_client, scratch):
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.log (id int)")
    conn.execute(f"INSERT INTO {schema}.log VALUES (1)")
    conn.execute(f"SELECT count(*) FROM {schema}.log")
    insert = QueryStat.objects.get(query__startswith=f"INSERT INTO {schema}.log")
    body = admin_client.post(
        reverse("admin:monitoring_querystat_change", args=[insert.pk])
    ).content.decode()
    assert "only SELECT and WITH … SELECT statements are explained" in body
    assert "this one is INSERT" in body

    select = QueryStat.objects.get(query=f"SELECT count(*) FROM {schema}.log")
    body = admin_client.post(
        reverse("admin:monitoring_querystat_change", args=[select.pk])
    ).content.decode()
    assert "Seq Scan on log" in body

    conn.execute(f"DROP TABLE {schema}.log")
    body = admin_client.post(
        reverse("admin:monitoring_querystat_change", args=[select.pk])
    ).content.decode()
    assert "Cannot be explained:" in body and "does not exist" in body


@pytest.mark.django_db
def test_it_answers_404_for_an_unknown_query(admin_client):
    url = reverse("admin:monitoring_querystat_change", args=["1.2.3"])
    assert admin_client.get(url).status_code == 404


@pytest.mark.django_db
def test_it_guards_the_query_page_like_the_table(client, staff_user):
    url = reverse("admin:monitoring_querystat_change", args=["1.2.3"])
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(staff_user)
    assert client.get(url).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_it_escapes_html_in_query_text(admin_client, second_connection):
    conn = second_connection()
    conn.execute(
        "SELECT reverse('a') /* <script>alert('pwned')</script> */"
        " AS monitoring_xss_marker"
    )
    stat = QueryStat.objects.get(query__contains="monitoring_xss_marker")
    for url in (
        reverse("admin:monitoring_querystat_changelist") + "?q=monitoring_xss_marker",
        reverse("admin:monitoring_querystat_change", args=[stat.pk]),
    ):
        body = admin_client.get(url).content.decode()
        assert "monitoring_xss_marker" in body
        assert "<script>alert(" not in body
        assert "&lt;script&gt;alert(" in body


@pytest.mark.django_db
def test_it_hides_the_statements_of_its_own_pages(admin_client):
    admin_client.get(reverse("admin:monitoring_indexusage_changelist"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT query FROM pg_stat_statements WHERE dbid = (SELECT oid"
            " FROM pg_database WHERE datname = current_database())"
            " AND (query LIKE '%%FROM \"index_usage_stats\"%%'"
            "      OR query LIKE '%%AS reader%%')"
        )
        own = [row[0] for row in cursor.fetchall()]
    # Recorded with the tag inside the statement (PostgreSQL 18 drops a
    # leading comment), and left out of query_stats.
    assert any("AS reader" in text for text in own), own
    assert all("/* perfconsole */" in text for text in own), own
    assert not QueryStat.objects.filter(query__contains='FROM "index_usage_stats"')
    assert not QueryStat.objects.filter(query__contains="AS reader")
