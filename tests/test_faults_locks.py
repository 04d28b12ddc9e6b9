"""Admin requests under locks: bounded by the admin timeouts, explained, no 500."""

import time

import pytest
from django.db import connection
from django.urls import reverse

pytestmark = pytest.mark.django_db(transaction=True)


def lock(second_connection, table, application_name="faults-holder"):
    """Hold an ACCESS EXCLUSIVE lock on table in an open transaction; return it."""
    holder = second_connection(autocommit=False)
    # Released after 10 s at the latest: without the admin's limits a request
    # then finishes late instead of hanging the test run.
    holder.execute(
        "SELECT set_config('application_name', %s, false),"
        " set_config('idle_in_transaction_session_timeout', '10s', false)",
        [application_name],
    )
    holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    return holder


@pytest.mark.parametrize(
    "model, table",
    [
        ("study", "studies"),
        ("studycollaborator", "study_collaborators"),
        ("collaborationactivity", "collaboration_activity"),
        ("organization", "organizations"),
    ],
)
def test_a_locked_table_gives_a_page_naming_the_blocker(
    admin_client, second_connection, settings, model, table
):
    settings.ADMIN_LOCK_TIMEOUT_MS = 300
    holder = lock(second_connection, table)
    url = reverse(f"admin:collaboration_{model}_changelist")
    started = time.monotonic()
    try:
        response = admin_client.get(url)
    finally:
        holder.rollback()
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    body = response.content.decode()
    assert "ADMIN_LOCK_TIMEOUT_MS (300 ms)" in body
    assert f"<td>{holder.info.backend_pid}</td>" in body
    assert "AccessExclusiveLock" in body and "faults-holder" in body
    assert f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE" in body
    # The admin look: the lock was on a product table, not on the session's.
    assert 'id="site-name"' in body and "Log out" in body
    # Once the lock is gone the page works again.
    assert admin_client.get(url).status_code == 200


def test_a_slow_statement_is_stopped_by_the_statement_timeout(
    admin_client, second_connection, settings
):
    settings.ADMIN_STATEMENT_TIMEOUT_MS = 200
    url = reverse("admin:collaboration_study_changelist")
    # The statement timeout is the shorter limit here: it stops the wait.
    holder = lock(second_connection, "studies")
    try:
        response = admin_client.get(url)
    finally:
        holder.rollback()
    assert response.status_code == 503
    body = response.content.decode()
    assert "ADMIN_STATEMENT_TIMEOUT_MS (200 ms)" in body
    assert "canceling statement due to statement timeout" in body


def test_a_locked_session_table_still_gives_a_plain_page(
    client, superuser, second_connection, settings
):
    settings.ADMIN_LOCK_TIMEOUT_MS = 300
    client.force_login(superuser)
    holder = lock(second_connection, "django_session")
    try:
        response = client.get(reverse("admin:index"))
    finally:
        holder.rollback()
    assert response.status_code == 503
    body = response.content.decode()
    assert f"<td>{holder.info.backend_pid}</td>" in body
    assert "Log out" not in body


def test_the_limits_apply_to_the_request_only(admin_client):
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        before = cursor.fetchone()[0]
    assert admin_client.get(reverse("admin:index")).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == before
