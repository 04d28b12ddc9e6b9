"""The "Test connection" button against real servers: what works, what is missing."""

import html
import logging
import socket
import time
import uuid

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse

from perfconsole.core.db import console_connection_params, raw_connection
from perfconsole.history.collector import console_database
from perfconsole.history.connection_test import (
    TEST_STATEMENT_TIMEOUT_MS,
    run_connection_test,
)
from perfconsole.history.connections import TARGET_CONNECT_TIMEOUT_S
from perfconsole.history.models import MonitoredDatabase

from .conftest import admin_connection

SECRET_VARIABLE = "PERFCONSOLE_PASSWORD_FLEET_TEST"


def button_url(target):
    return reverse("admin:history_monitoreddatabase_test_connection", args=[target.pk])


def findings(report):
    return {finding.name: finding for finding in report.findings}


def test_a_database_of_the_suite_server_is_up_with_nothing_missing(
    admin_client, make_target
):
    target = make_target()
    response = admin_client.post(button_url(target))
    assert response.status_code == 200
    page = response.content.decode()
    assert "nothing is missing" in page
    assert "PostgreSQL 1" in page
    findings_table = page[page.index('id="test-findings"') :]
    for name in ("server version", "monitoring grant", "track_io_timing", "role"):
        assert name in findings_table
    assert "pg_stat_statements 1." in findings_table
    target.refresh_from_db()
    assert target.status == MonitoredDatabase.UP
    assert target.status_reason == ""
    assert target.last_checked_at is not None and target.status_since is not None
    entry = LogEntry.objects.get(object_id=str(target.pk))
    assert entry.action_flag == CHANGE
    assert "Tested the connection: up, nothing missing" in entry.change_message


def test_the_console_database_is_tested_through_its_own_connection(admin_client):
    console = console_database()
    page = admin_client.post(button_url(console)).content.decode()
    assert "Connected: the target is <strong>up</strong>" in page
    console.refresh_from_db()
    assert console.status == MonitoredDatabase.UP
    assert console.last_checked_at is not None


def test_a_database_without_the_extension_or_io_timing_says_how_to_fix_them(
    transactional_db, make_target
):
    name = f"fleet_bare_{uuid.uuid4().hex[:8]}"
    with admin_connection() as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        conn.execute(f"ALTER DATABASE {name} SET track_io_timing = off")
    try:
        report = run_connection_test(make_target(dbname=name))
    finally:
        with admin_connection() as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
    statements = findings(report)["pg_stat_statements"]
    assert report.connected and not statements.ok
    assert "not installed in this database" in statements.detail
    assert any("CREATE EXTENSION pg_stat_statements" in step for step in statements.fix)
    assert "pg_stat_statements is not installed" in report.reason
    io_timing = findings(report)["track_io_timing"]
    assert not io_timing.ok
    assert io_timing.fix == [
        "ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();"
    ]
    assert "track_io_timing is off" in report.reason


def test_a_role_without_pg_monitor_is_told_the_grant(transactional_db, make_target):
    role = f"fleet_plain_{uuid.uuid4().hex[:6]}"
    with admin_connection() as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
    try:
        report = run_connection_test(make_target(user=role))
    finally:
        with admin_connection() as conn:
            conn.execute(f"DROP ROLE {role}")
    grant = findings(report)["monitoring grant"]
    assert report.connected and not grant.ok
    assert grant.fix == [f"GRANT pg_monitor TO {role};  -- as a superuser"]
    # shared_preload_libraries is hidden from it: the catalog still answers.
    assert findings(report)["pg_stat_statements"].ok


def test_a_primary_configured_as_standby_is_a_mismatch(transactional_db, make_target):
    primary = make_target(name="the primary")
    report = run_connection_test(
        make_target(role=MonitoredDatabase.STANDBY, primary=primary)
    )
    role = findings(report)["role"]
    assert not role.ok
    assert "pg_is_in_recovery() is false" in role.detail
    assert "configured as a standby" in role.detail


def test_a_port_nothing_listens_on_is_down_at_once(
    admin_client, make_target, dead_port
):
    target = make_target(port=dead_port)
    started = time.monotonic()
    response = admin_client.post(button_url(target))
    assert time.monotonic() - started < 4
    assert response.status_code == 200
    assert "Connection refused" in response.content.decode()
    target.refresh_from_db()
    assert target.status == MonitoredDatabase.DOWN
    assert "Connection refused" in target.status_reason
    assert "down: cannot connect" in LogEntry.objects.get().change_message


def test_a_server_that_never_answers_times_out(transactional_db, make_target):
    # The kernel completes the handshake; nothing ever answers libpq.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        target = make_target(port=silent.getsockname()[1])
        started = time.monotonic()
        report = run_connection_test(target)
    assert time.monotonic() - started < TARGET_CONNECT_TIMEOUT_S + 3
    assert not report.connected
    assert "timeout expired" in report.reason


def test_a_lock_on_the_catalog_stops_the_test_not_the_request(
    transactional_db, make_target, target_dbname
):
    target = make_target()
    params = console_connection_params(dbname=target_dbname)
    with raw_connection(params, autocommit=False) as holder:
        holder.execute("LOCK TABLE pg_catalog.pg_extension IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        report = run_connection_test(target)
        elapsed = time.monotonic() - started
        holder.rollback()
    assert elapsed < TEST_STATEMENT_TIMEOUT_MS / 1000 + 1
    assert not report.connected
    assert report.reason.startswith("connected, then")
    assert "lock timeout" in report.reason


def test_a_database_that_does_not_exist_is_named(transactional_db, make_target):
    report = run_connection_test(make_target(dbname="fleet_no_such_database"))
    assert not report.connected
    assert 'database "fleet_no_such_database" does not exist' in report.reason


def test_an_unset_password_variable_is_named(transactional_db, make_target):
    report = run_connection_test(make_target(password_env=SECRET_VARIABLE))
    assert not report.connected
    assert f"{SECRET_VARIABLE} that holds the password" in report.reason


def test_a_wrong_password_shows_the_reason_never_the_password(
    admin_client, make_target, password_server, monkeypatch, caplog
):
    port, role, password = password_server
    secret = f"not-{password}-{uuid.uuid4().hex}"
    monkeypatch.setenv(SECRET_VARIABLE, secret)
    target = make_target(
        port=port, dbname="postgres", user=role, password_env=SECRET_VARIABLE
    )
    caplog.set_level(logging.DEBUG)
    response = admin_client.post(button_url(target))
    page = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert f'password authentication failed for user "{role}"' in page
    target.refresh_from_db()
    assert target.status == MonitoredDatabase.DOWN
    assert "password authentication failed" in target.status_reason
    assert "password authentication failed" in caplog.text
    for text in (page, caplog.text, target.status_reason):
        assert secret not in text
    assert secret not in LogEntry.objects.get().change_message

    # The right password in the same variable connects.
    monkeypatch.setenv(SECRET_VARIABLE, password)
    page = admin_client.post(button_url(target)).content.decode()
    assert "Connected: the target is <strong>up</strong>" in page
    assert password not in page


def test_the_button_needs_its_permission_and_a_post(
    client, django_user_model, make_target
):
    from django.contrib.auth.models import Permission

    target = make_target()
    user = django_user_model.objects.create_user(
        username="tester", password="x", is_staff=True
    )
    user.user_permissions.add(
        Permission.objects.get(codename="change_monitoreddatabase")
    )
    client.force_login(user)
    change_page = client.get(
        reverse("admin:history_monitoreddatabase_change", args=[target.pk])
    )
    assert change_page.status_code == 200
    assert b"Test connection" not in change_page.content
    assert client.post(button_url(target)).status_code == 403

    user.user_permissions.add(Permission.objects.get(codename="test_connection"))
    user = django_user_model.objects.get(pk=user.pk)
    client.force_login(user)
    assert (
        b"Test connection"
        in client.get(
            reverse("admin:history_monitoreddatabase_change", args=[target.pk])
        ).content
    )
    assert client.get(button_url(target)).status_code == 405
    assert client.post(button_url(target)).status_code == 200
    # The button posts with the CSRF token: a client enforcing it is refused
    # without one.
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(button_url(target)).status_code == 403


@pytest.mark.parametrize("missing_pk", [987654])
def test_an_unknown_target_is_404(admin_client, missing_pk):
    response = admin_client.post(
        reverse("admin:history_monitoreddatabase_test_connection", args=[missing_pk])
    )
    assert response.status_code == 404
