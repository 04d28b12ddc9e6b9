"""EXPLAIN of a monitored statement never runs with the console's privileges.

The planner evaluates IMMUTABLE functions while it plans, so a statement
any database user put in pg_stat_statements runs that user's code when the
console explains it. These tests plant such a function for real and check
that it can neither read the console's tables, nor act as the console's
role, nor leave anything behind on the console's connections.
"""

import time
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session
from django.db import connection
from django.urls import reverse

from perfconsole.core.db import console_connection_params, raw_connection
from perfconsole.monitoring.explain import console_role, explain_statement
from perfconsole.monitoring.models import QueryStat

ADVISORY_KEY = 424242

# Runs its payload only when another role plans it; returns what it read, so
# the value shows as a folded constant in the plan the page displays.
HARVEST = """
CREATE FUNCTION {schema}.restore_role() RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RESET ROLE;
END $$;

CREATE FUNCTION {schema}.harvest() RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    stolen text;
BEGIN
    IF session_user = '{attacker}' THEN
        RETURN 'self';
    END IF;
    PERFORM pg_advisory_lock({key});
    BEGIN
        PERFORM set_config('role', '{console}', false);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    BEGIN
        PERFORM {schema}.restore_role();
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    BEGIN
        PERFORM pg_terminate_backend({victim});
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    BEGIN
        SELECT session_key INTO stolen FROM public.django_session
        ORDER BY expire_date DESC LIMIT 1;
        PERFORM set_config('application_name', stolen, false);
    EXCEPTION WHEN OTHERS THEN
        stolen := 'denied: ' || SQLERRM;
    END;
    RETURN coalesce(stolen, 'nothing');
END $$;

GRANT USAGE ON SCHEMA {schema} TO PUBLIC;
"""


def connect_as(user):
    """Open an autocommit connection to the test database as user."""
    return raw_connection(
        console_connection_params(user=user, application_name=f"test-{user}")
    )


@pytest.fixture
def attacker(second_connection):
    """Yield (role, schema, victim connection): an ordinary user's trap.

    The victim is another role's session the trap tries to terminate.
    """
    admin = second_connection()
    suffix = uuid.uuid4().hex[:8]
    role, victim_role, schema = (
        f"attacker_{suffix}",
        f"victim_{suffix}",
        f"atk_{suffix}",
    )
    admin.execute(f"CREATE ROLE {role} LOGIN")
    admin.execute(f"CREATE ROLE {victim_role} LOGIN")
    admin.execute(f"CREATE SCHEMA {schema} AUTHORIZATION {role}")
    victim = connect_as(victim_role)
    own = connect_as(role)
    try:
        own.execute(
            HARVEST.format(
                schema=schema,
                attacker=role,
                key=ADVISORY_KEY,
                console=console_role(),
                victim=victim.info.backend_pid,
            )
        )
        # Once as itself, so the statement lands in pg_stat_statements.
        own.execute(f"SELECT 1 WHERE {schema}.harvest() = 'x'")
        own.close()
        yield role, schema, victim
    finally:
        own.close()
        victim.close()
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.execute(f"DROP ROLE {role}")
        admin.execute(f"DROP ROLE {victim_role}")


def staff(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(
        username=username, password="password", is_staff=True
    )
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="monitoring", codename__in=codenames
        )
    )
    return user


def console_identity():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_setting('application_name')")
        return cursor.fetchone()


def advisory_locks():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
            [ADVISORY_KEY],
        )
        return cursor.fetchall()


def published_names():
    with connection.cursor() as cursor:
        cursor.execute("SELECT application_name FROM pg_stat_activity")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_a_planted_function_gets_no_session_key_lock_or_role(
    client, django_user_model, attacker
):
    _, schema, victim = attacker
    viewer = staff(django_user_model, "viewer", "view_querystat")
    explainer = staff(
        django_user_model, "explainer", "view_querystat", "explain_querystat"
    )
    stat = QueryStat.objects.get(
        query__startswith=f"SELECT $1 WHERE {schema}.harvest()"
    )
    url = reverse("admin:monitoring_querystat_change", args=[stat.pk])

    # View rights only: no plan on GET, 403 on POST.
    client.force_login(viewer)
    page = client.get(url).content.decode()
    assert "Plans need the permission" in page
    assert '<form method="post"' not in page and "Explain (plan only" not in page
    assert client.post(url).status_code == 403

    # The explainer's own login is a live session in django_session.
    client.force_login(explainer)
    before = console_identity()
    assert "Explain (plan only, never run)" in client.get(url).content.decode()
    body = client.post(url).content.decode()

    keys = set(Session.objects.values_list("session_key", flat=True))
    assert keys
    # The function ran while planning (its folded result is in the plan) and
    # could not read the sessions.
    assert "denied: permission denied for table django_session" in body
    assert not any(key in body for key in keys)
    assert not any(key in name for name in published_names() for key in keys)
    assert advisory_locks() == []
    assert victim.execute("SELECT 1").fetchone() == (1,)
    assert console_identity() == before
    # The explain connection's own statements stay out of query statistics.
    assert not QueryStat.objects.filter(user_name="perfconsole_explain").exists()


@pytest.mark.django_db(transaction=True)
def test_each_explain_is_audited(admin_client, attacker):
    from django.contrib.admin.models import LogEntry

    _, schema, _ = attacker
    stat = QueryStat.objects.get(
        query__startswith=f"SELECT $1 WHERE {schema}.harvest()"
    )
    admin_client.post(reverse("admin:monitoring_querystat_change", args=[stat.pk]))
    entry = LogEntry.objects.get(object_id=stat.pk)
    assert entry.change_message.startswith(
        "Explained (plan only, as perfconsole_explain):"
    )
    assert f"{schema}.harvest()" in entry.change_message


@pytest.mark.django_db(transaction=True)
def test_it_refuses_an_explain_url_of_the_console_role(settings):
    params = connection.settings_dict
    console = console_role()
    settings.EXPLAIN_DATABASE_URL = (
        f"postgresql://{console}@{params['HOST']}:{params['PORT']}/{params['NAME']}"
    )
    plan = explain_statement("SELECT 1")
    assert plan.text == ""
    assert f"the explain connection's role {console} is refused" in plan.message


@pytest.mark.django_db(transaction=True)
def test_it_refuses_an_explain_role_that_reads_the_console(settings, second_connection):
    admin = second_connection()
    role = f"reader_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE ROLE {role} LOGIN")
    admin.execute(f"GRANT SELECT ON django_session TO {role}")
    params = connection.settings_dict
    settings.EXPLAIN_DATABASE_URL = (
        f"postgresql://{role}@{params['HOST']}:{params['PORT']}/{params['NAME']}"
    )
    try:
        plan = explain_statement("SELECT 1")
    finally:
        admin.execute(f"REVOKE ALL ON django_session FROM {role}")
        admin.execute(f"DROP ROLE {role}")
    assert "has rights on the console's tables django_session" in plan.message


@pytest.mark.django_db
def test_plans_are_off_for_a_server_without_an_explain_url(
    settings, admin_client, second_connection
):
    settings.EMBEDDED_DATABASE = False
    settings.EXPLAIN_DATABASE_URL = ""
    plan = explain_statement("SELECT 1")
    assert plan.message.startswith("Plans are off: set EXPLAIN_DATABASE_URL")
    assert "CREATE ROLE perfconsole_explain LOGIN NOINHERIT" in plan.message
    assert "GRANT SELECT ON studies TO perfconsole_explain" in plan.message
    assert "django_session" not in plan.message


@pytest.mark.django_db(transaction=True)
def test_a_function_that_ignores_the_timeout_is_ended(settings, second_connection):
    settings.MONITORING_EXPLAIN_TIMEOUT_MS = 200
    admin = second_connection()
    name = f"stubborn_{uuid.uuid4().hex[:8]}"
    admin.execute(
        f"CREATE FUNCTION public.{name}() RETURNS int LANGUAGE plpgsql IMMUTABLE"
        " AS $$ BEGIN LOOP BEGIN PERFORM pg_sleep(0.05);"
        " EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $$"
    )
    try:
        started = time.monotonic()
        plan = explain_statement(f"SELECT public.{name}()")
        elapsed = time.monotonic() - started
    finally:
        admin.execute(f"DROP FUNCTION public.{name}()")
    assert "planning ignored its 200 ms timeout" in plan.message
    assert elapsed < 10
    for _ in range(50):
        if "perfconsole-explain" not in published_names():
            break
        time.sleep(0.1)
    assert "perfconsole-explain" not in published_names()


@pytest.mark.django_db
def test_setupexplainrole_without_the_rights_prints_the_sql():
    from django.core.management import CommandError, call_command

    role = f"weak_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN NOSUPERUSER NOCREATEROLE")
        cursor.execute(f"SET ROLE {role}")
    with pytest.raises(CommandError) as refused:
        call_command("setupexplainrole")
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
    message = str(refused.value)
    assert "Cannot set up the explain role perfconsole_explain" in message
    assert "Run as a superuser in this database:" in message
    assert "CREATE ROLE perfconsole_explain LOGIN NOINHERIT" in message
    assert "GRANT SELECT ON users TO perfconsole_explain;" in message


@pytest.mark.django_db(transaction=True)
def test_a_broken_explain_url_is_a_message_not_an_error(
    settings, admin_client, second_connection
):
    second_connection().execute("SELECT initcap('a') /* explain_url_marker */, 2, 3")
    stat = QueryStat.objects.get(query__contains="explain_url_marker")
    url = reverse("admin:monitoring_querystat_change", args=[stat.pk])
    settings.EXPLAIN_DATABASE_URL = "not a url"
    for response in (admin_client.get(url), admin_client.post(url)):
        assert response.status_code == 200
        assert "EXPLAIN_DATABASE_URL cannot be parsed" in response.content.decode()
