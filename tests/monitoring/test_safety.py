"""Safety: locks and timeouts give a message, a pg_monitor role suffices,
and a missing pg_stat_statements is explained, never a 500."""

import uuid

import pytest
from django.db import connection
from django.urls import reverse

from perfconsole.monitoring.statviews import sync_views


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "lock_ms, statement_ms, message",
    [
        (200, 5000, b"a catalog lock is held by another session (lock timeout)"),
        (5000, 200, b"the query hit its statement timeout"),
    ],
)
def test_it_says_statistics_unavailable_when_a_lock_is_held(
    admin_client, second_connection, settings, lock_ms, statement_ms, message
):
    settings.MONITORING_LOCK_TIMEOUT_MS = lock_ms
    settings.MONITORING_STATEMENT_TIMEOUT_MS = statement_ms
    holder = second_connection(autocommit=False)
    # A locked table only loses its sizes (test_locked_sizes); the view
    # itself locked stops the whole page.
    holder.execute("LOCK TABLE table_performance_stats IN ACCESS EXCLUSIVE MODE")
    url = reverse("admin:monitoring_tableperformance_changelist")
    try:
        response = admin_client.get(url)
    finally:
        holder.rollback()
    assert response.status_code == 503
    assert b"Statistics unavailable right now" in response.content
    assert message in response.content
    # Once the lock is gone the page works again.
    assert admin_client.get(url).status_code == 200


@pytest.mark.django_db
def test_it_tells_what_to_run_when_pg_stat_statements_is_absent(admin_client):
    with connection.cursor() as cursor:
        cursor.execute("DROP EXTENSION pg_stat_statements CASCADE")
    sync_views()
    for name in (
        "admin:monitoring_querystat_changelist",
        "admin:monitoring_slowquery_changelist",
    ):
        response = admin_client.get(reverse(name))
        assert response.status_code == 200
        assert b"CREATE EXTENSION pg_stat_statements;" in response.content
        assert b"python manage.py syncstatviews" in response.content
        assert b"No rows." in response.content
    # The other pages do not depend on the extension.
    url = reverse("admin:monitoring_indexusage_changelist")
    response = admin_client.get(f"{url}?console=on&q=auth_user_pkey")
    assert response.status_code == 200 and b"auth_user_pkey" in response.content

    # Enabled again but not synced: the page names the one command.
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION pg_stat_statements")
    response = admin_client.get(reverse("admin:monitoring_querystat_changelist"))
    assert b"the views were created without it" in response.content
    assert b"CREATE EXTENSION" not in response.content
    sync_views()
    response = admin_client.get(reverse("admin:monitoring_querystat_changelist"))
    assert b"python manage.py syncstatviews" not in response.content


@pytest.mark.django_db
def test_it_works_for_a_role_with_pg_monitor(admin_client, monitor_role):
    for name in (
        "admin:monitoring_querystat_changelist",
        "admin:monitoring_indexusage_changelist",
        "admin:monitoring_tableperformance_changelist",
        "admin:monitoring_settingsreview_changelist",
    ):
        response = admin_client.get(reverse(name))
        assert response.status_code == 200, name
    body = admin_client.get(
        reverse("admin:monitoring_querystat_changelist") + f"?q=secret_{monitor_role}"
    ).content.decode()
    # pg_read_all_stats (in pg_monitor) shows other roles' statements.
    assert f"SELECT count(*) FROM secret_{monitor_role}" in body


@pytest.mark.django_db(transaction=True)
def test_it_names_the_missing_grant_when_explain_is_denied(
    admin_client, second_connection, explain_role
):
    from perfconsole.monitoring.models import QueryStat

    conn = second_connection()
    table = f"secret_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE TABLE {table} (id int)")
    try:
        conn.execute(f"SELECT count(*) FROM {table}")
        stat = QueryStat.objects.get(query=f"SELECT count(*) FROM {table}")
        body = admin_client.post(
            reverse("admin:monitoring_querystat_change", args=[stat.pk])
        ).content.decode()
    finally:
        conn.execute(f"DROP TABLE {table}")
    assert f"permission denied for table {table}" in body
    assert f"GRANT SELECT ON &lt;table&gt; TO {explain_role}" in body
