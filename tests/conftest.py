"""Fixtures shared by the whole suite. Every test runs on a real PostgreSQL."""

import io

import pytest
from django.db import connection

from perfconsole.core.db import raw_connection


@pytest.fixture(autouse=True)
def _plain_http(settings):
    # The suite runs with production security settings; the test client
    # speaks plain HTTP, so only the HTTPS redirect is turned off.
    settings.SECURE_SSL_REDIRECT = False
    # Production serves hashed files that `collectstatic` writes; the suite
    # has not run it, so it resolves static files from the apps.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }


@pytest.fixture
def staff_user(django_user_model):
    """Return a staff user without any model permission."""
    return django_user_model.objects.create_user(
        username="staff", password="staff-password", is_staff=True
    )


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(
        username="root", password="root-password", email=""
    )


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def second_connection(transactional_db):
    """Open an independent psycopg connection to the test database.

    Used to create real concurrent conditions: blocked sessions, long
    queries, readers during a refresh. Closed after the test.
    """
    opened = []

    def connect(autocommit=True):
        conn = raw_connection(autocommit=autocommit)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


@pytest.fixture(scope="session")
def explain_role(django_db_setup, django_db_blocker):
    """Create the role monitored statements are planned as; return its name.

    The role is cluster-wide, its grants are per database: the test database
    is new each run, so the command runs once per run.
    """
    from django.core.management import call_command

    from perfconsole.monitoring.explain import EXPLAIN_ROLE

    with django_db_blocker.unblock():
        call_command("setupexplainrole", stdout=io.StringIO())
    return EXPLAIN_ROLE


def xfail_before(request, version_num, reason):
    """Mark a known gap: a test that fails in suite order on older servers.

    Non-strict: where it passes (alone, on a quiet machine) it still counts.
    """
    if connection.pg_version < version_num:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=False))
