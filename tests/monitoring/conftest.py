"""Fixtures of the monitoring tests: real tables with real statistics."""

import uuid

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from perfconsole.monitoring.statviews import VIEW_NAMES


@pytest.fixture
def viewer(django_user_model):
    """Return a staff user who may view every monitoring page."""
    user = django_user_model.objects.create_user(
        username="viewer", password="viewer-password", is_staff=True
    )
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="monitoring", codename__startswith="view_"
        )
    )
    return user


@pytest.fixture(scope="session", autouse=True)
def _explain_role(explain_role):
    """Have the role that plans monitored statements in the test database."""


@pytest.fixture
def scratch(second_connection, explain_role):
    """Yield (autocommit connection, schema name); drop the schema afterwards.

    Tables live in their own schema so pages can be filtered to them and
    other tests' tables never get in the way. The explain role may read them,
    as it may read the monitored application's tables.

    PostgreSQL 18 identifies a statement by its tables' names, not their
    schemas: a test that finds its statement by text names its tables as no
    other test does, or it may find another test's text under its queryid.
    """
    conn = second_connection()
    schema = f"mon_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE SCHEMA {schema}")
    conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {explain_role}")
    conn.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}"
        f" GRANT SELECT ON TABLES TO {explain_role}"
    )
    yield conn, schema
    conn.rollback()
    conn.execute(f"DROP SCHEMA {schema} CASCADE")


def flush_statistics(conn):
    """Make conn's table and index counters visible to other sessions now."""
    if connection.pg_version >= 150000:
        # The backend reports before it says "ready", so this returns after.
        conn.execute("SELECT pg_stat_force_next_flush()")
    else:
        import time

        time.sleep(0.7)  # PostgreSQL 14's collector receives stats within 500 ms


@pytest.fixture
def monitor_role(db):
    """Switch the test's connection to a new non-superuser role with pg_monitor.

    The views are owned by it, as when the console's role ran the
    migrations. Everything is undone with the test's transaction.
    """
    role = f"monitor_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        # A table the role may not read; its own name per test, because the
        # statement's queryid depends on the table's OID.
        cursor.execute(f"CREATE TABLE secret_{role} (id int)")
        # On the driver's cursor: as the product would send it, untagged.
        cursor.cursor.execute(f"SELECT count(*) FROM secret_{role}")
        cursor.execute(f"CREATE ROLE {role} NOLOGIN NOSUPERUSER")
        cursor.execute(f"GRANT pg_monitor TO {role}")
        # The console's own tables (sessions, users), not the product's.
        for table in (
            "auth_user",
            "django_session",
            "auth_permission",
            "auth_user_user_permissions",
            "auth_user_groups",
            "auth_group_permissions",
            "django_content_type",
            "auth_group",
        ):
            cursor.execute(f"GRANT SELECT, INSERT, UPDATE ON {table} TO {role}")
        for view in VIEW_NAMES:
            cursor.execute(f"ALTER VIEW {view} OWNER TO {role}")
        cursor.execute(f"SET ROLE {role}")
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False,)
    return role
