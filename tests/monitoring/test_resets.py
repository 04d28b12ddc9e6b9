"""Resetting pg_stat_statements and the table statistics: permission,
confirmation, real counters zeroed, the admin log, a missing grant named."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse

from perfconsole.monitoring.models import QueryStat, TablePerformance
from tests.monitoring.conftest import flush_statistics

QUERY_RESET = reverse("admin:monitoring_querystat_reset")
TABLE_RESET = reverse("admin:monitoring_tableperformance_reset")
QUERIES = reverse("admin:monitoring_querystat_changelist")
TABLES = reverse("admin:monitoring_tableperformance_changelist")
MARKER = "SELECT 'reset marker'::text AS monitoring_reset_marker"


def _marker_stats():
    return QueryStat.objects.filter(query__contains="monitoring_reset_marker")


@pytest.fixture
def counted(second_connection):
    conn = second_connection()
    # Called often: pg_stat_statements evicts its least used entries first
    # when full, and concurrent runs on the server fill it.
    for _ in range(50):
        conn.execute(MARKER)
    assert _marker_stats().exists()
    return conn


@pytest.mark.django_db(transaction=True)
def test_resets_need_their_own_permission(client, viewer, counted):
    client.force_login(viewer)

    assert 'id="reset-statistics"' not in client.get(QUERIES).content.decode()
    assert client.get(QUERY_RESET).status_code == 403
    assert client.post(QUERY_RESET, {"confirm": "yes"}).status_code == 403
    assert client.post(TABLE_RESET, {"confirm": "yes"}).status_code == 403
    assert _marker_stats().exists()
    assert not LogEntry.objects.exists()

    viewer.user_permissions.add(Permission.objects.get(codename="reset_querystat"))
    page = client.get(QUERIES).content.decode()
    assert f'href="{QUERY_RESET}"' in page
    assert 'id="reset-statistics"' not in client.get(TABLES).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_query_statistics_reset_asks_then_zeroes_and_is_logged(
    admin_client, superuser, counted
):
    page = admin_client.get(QUERY_RESET).content.decode()
    assert "Reset query statistics of the database" in page
    assert "pg_stat_statements is shared" in page
    assert 'name="confirm" value="yes"' in page

    # Without the confirmation nothing happens.
    assert admin_client.post(QUERY_RESET).status_code == 200
    assert _marker_stats().exists()

    response = admin_client.post(QUERY_RESET, {"confirm": "yes"}, follow=True)

    assert response.redirect_chain[-1][0] == QUERIES
    assert "Reset query statistics: done" in response.content.decode()
    assert not _marker_stats().exists()
    entry = LogEntry.objects.get()
    assert entry.user == superuser and entry.object_id == "querystat"
    assert "pg_stat_statements_reset" in entry.change_message


@pytest.mark.django_db(transaction=True)
def test_a_table_statistics_reset_zeroes_the_scan_counters(
    admin_client, second_connection
):
    conn = second_connection()
    conn.execute("DROP TABLE IF EXISTS reset_scanned")
    conn.execute(
        "CREATE TABLE reset_scanned AS SELECT g FROM generate_series(1, 100) g"
    )
    for _ in range(3):
        conn.execute("SELECT count(*) FROM reset_scanned")
    flush_statistics(conn)
    try:
        assert TablePerformance.objects.get(table_name="reset_scanned").seq_scan >= 3
        page = admin_client.get(TABLE_RESET).content.decode()
        assert "pg_stat_reset()" in page and "index usage" in page.lower()

        admin_client.post(TABLE_RESET, {"confirm": "yes"})

        assert TablePerformance.objects.get(table_name="reset_scanned").seq_scan == 0
        assert LogEntry.objects.get().object_id == "tablestat"
    finally:
        conn.execute("DROP TABLE reset_scanned")


def test_a_role_without_the_grant_is_told_what_to_grant(admin_client, monitor_role):
    response = admin_client.post(QUERY_RESET, {"confirm": "yes"}, follow=True)

    messages = " ".join(str(m) for m in response.context["messages"])
    assert "GRANT EXECUTE ON FUNCTION pg_stat_statements_reset TO" in messages, messages
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
    assert not LogEntry.objects.exists()
