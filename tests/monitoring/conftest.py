"""Fixtures of the monitoring tests: real tables with real statistics."""

import uuid

import pytest
from django.contrib.auth.models import Permission
from django.db import connection


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


@pytest.fixture
def scratch(second_connection):
    """Yield (autocommit connection, schema name); drop the schema afterwards.

    Tables live in their own schema so pages can be filtered to them and
    other tests' tables never get in the way.
    """
    conn = second_connection()
    schema = f"mon_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE SCHEMA {schema}")
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
