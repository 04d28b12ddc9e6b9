"""Fixtures shared by the whole suite. Every test runs on a real PostgreSQL."""

import io
import os
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management.commands import flush as flush_command
from django.db.backends.base.base import BaseDatabaseWrapper

from perfconsole.core.db import raw_connection
from perfconsole.history.connections import ALIAS_PREFIX

# A scratch primary and its streaming standby, for any test that asks.
from tests.replication_servers import replication_pair  # noqa: F401
from tests.scratch_servers import DEBIAN_15, start_scratch_server

DATABASE_FIXTURES = {"db", "transactional_db"}

# One PBKDF2 round instead of a million: each user a test creates would
# otherwise cost a third of a second to hash. The hash records its rounds, so
# a console the tests start in another process still checks it.
PBKDF2PasswordHasher.iterations = 1


# Rows that migrate writes and Django's flush would only truncate and write
# again (its post_migrate handlers, 0.3 s a test): no test changes them.
KEPT_BY_FLUSH = {"django_content_type", "auth_permission"}


def flush_written_tables(style, connection, reset_sequences=True, allow_cascade=False):
    """Return Django's flush statements for the tables tests wrote to.

    Every transactional test ends with Django's flush, a TRUNCATE of every
    table. TRUNCATE gives each table, index and TOAST table a new file, about
    2 ms apiece on this disk, though most tables never got a row: a table of
    size 0 is empty already. CASCADE takes along the tables that reference a
    truncated one.
    """
    tables = connection.introspection.django_table_names(
        only_existing=True, include_views=False
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE oid = ANY(%s::regclass[])"
            " AND pg_relation_size(oid) > 0",
            [[connection.ops.quote_name(table) for table in tables]],
        )
        written = [name for (name,) in cursor.fetchall() if name not in KEPT_BY_FLUSH]
    return connection.ops.sql_flush(
        style, written, reset_sequences=reset_sequences, allow_cascade=True
    )


flush_command.sql_flush = flush_written_tables


@pytest.fixture(autouse=True)
def _room_in_pg_stat_statements(request):
    """Keep pg_stat_statements below its max between tests.

    A full run on a server before 18 (IN lists not merged, a new table per
    test) fills its 10 000 entries, and the extension then evicts the least
    used: a test's own statement could vanish between two reads. Entries of
    dropped test databases go first, then, if still needed, this database's
    (between tests, so no test loses what it ran).
    """
    uses_database = request.node.get_closest_marker("django_db") or (
        DATABASE_FIXTURES & set(request.fixturenames)
    )
    if not uses_database:
        return
    request.getfixturevalue("django_db_setup")
    with request.getfixturevalue("django_db_blocker").unblock():
        make_room_in_pg_stat_statements()


def make_room_in_pg_stat_statements(share=0.8):
    """Reset entries when pg_stat_statements is fuller than share of its max."""
    # pg_stat_statements(false) counts without reading the query texts' file.
    with raw_connection() as conn:
        try:
            (used, limit) = conn.execute(
                "SELECT count(*), current_setting('pg_stat_statements.max')::int"
                " FROM pg_stat_statements(false)"
            ).fetchone()
        except psycopg.Error:
            return  # the extension is absent here: nothing to make room in
        if used < share * limit:
            return
        conn.execute(
            "SELECT pg_stat_statements_reset(0, d.dbid, 0) FROM"
            " (SELECT DISTINCT dbid FROM pg_stat_statements(false)"
            "  WHERE dbid NOT IN (SELECT oid FROM pg_database)) d"
        )
        (used,) = conn.execute(
            "SELECT count(*) FROM pg_stat_statements(false)"
        ).fetchone()
        if used >= share * limit:
            forget_statements_of_this_database(conn)


def forget_statements_of_this_database(conn):
    """Reset pg_stat_statements' entries of this database (no other's).

    conn is a psycopg connection or a cursor (Django's included).
    """
    conn.execute(
        "SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database"
        " WHERE datname = current_database()"
    )


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
def target_connections(db, django_db_blocker, monkeypatch):
    """Let a database test connect through the aliases of the targets it makes.

    Django's test case refuses aliases it did not list when it started, and
    a monitored target's alias is registered during the test. Works with
    transactional_db or the django_db(transaction=True) mark as well.
    """
    guarded = BaseDatabaseWrapper.ensure_connection
    real = django_db_blocker._real_ensure_connection

    def ensure_connection(wrapper, *args, **kwargs):
        if wrapper.alias.startswith(ALIAS_PREFIX):
            return real(wrapper, *args, **kwargs)
        return guarded(wrapper, *args, **kwargs)

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", ensure_connection)


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


@pytest.fixture(scope="module")
def server_15(tmp_path_factory):
    """Start Debian's PostgreSQL 15 as a target of another major version."""
    if not (DEBIAN_15 / "postgres").exists():
        pytest.skip("Debian's PostgreSQL 15 is not installed")
    if Path(os.environ.get("EMBEDDED_PG_BIN") or "/") == DEBIAN_15:
        pytest.skip("the suite itself runs on PostgreSQL 15")
    server = start_scratch_server(tmp_path_factory.mktemp("target15"), DEBIAN_15)
    yield server
    server.stop()
