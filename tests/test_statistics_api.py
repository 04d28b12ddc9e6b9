"""The one way the console reads statistics: perfconsole.core.db.

Tagging, guarded reads, connections of their own, generic plans, the cache
hit rate and the pg_stat_statements check each exist once; the source scan
keeps it so.
"""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection

from perfconsole.core.db import (
    PREPARED_PLAN,
    TaggedCursor,
    cache_hits,
    generic_plan,
    monitoring_cursor,
    raw_connection,
    reading_statistics,
)

SOURCE = Path(__file__).resolve().parent.parent / "perfconsole"
CORE = "core/db.py"
# What only the one implementation may contain, and where it lives.
RULES = [
    ("the tag written by hand", re.compile(r"/\* perfconsole \*/"), {CORE}),
    ("a tag fragment", re.compile(r"\{QUERY_TAG\}"), {CORE}),
    # The embedded server starts before Django has a connection to copy.
    ("a raw connection", re.compile(r"psycopg\.connect\("), {CORE, "embedded/"}),
    ("Django's connection parameters", re.compile(r"get_connection_params"), {CORE}),
    ("a generic plan", re.compile(r"GENERIC_PLAN|\bPREPARE\b"), {CORE}),
    (
        "a cache hit rate",
        re.compile(r"blks_hit\w*\)?\s*/|/\s*nullif\(\s*(sum\()?\w*blks_hit"),
        {CORE},
    ),
    (
        "a pg_stat_statements presence check",
        re.compile(r"extname\s*=\s*'pg_stat_statements'"),
        {"monitoring/extension.py"},
    ),
]


def _sources():
    for path in sorted(SOURCE.rglob("*.py")):
        yield path.relative_to(SOURCE).as_posix(), path.read_text()


@pytest.mark.parametrize("what, pattern, allowed", RULES, ids=[r[0] for r in RULES])
def test_only_core_reads_statistics_its_own_way(what, pattern, allowed):
    found = [
        name
        for name, text in _sources()
        if pattern.search(text) and not any(name.startswith(a) for a in allowed)
    ]
    assert not found, f"{what} outside {sorted(allowed)}: {found}"


def _capture(statements):
    def wrapper(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    return wrapper


@pytest.mark.django_db
def test_every_statement_of_a_guarded_read_carries_the_tag():
    statements = []
    with monitoring_cursor() as cursor:
        # Installed last, the capture sees what reaches the server.
        with connection.execute_wrapper(_capture(statements)):
            cursor.execute("SELECT 1")
            cursor.execute("WITH a AS (SELECT 2 AS x) SELECT x FROM a")
    with reading_statistics() as reading:
        with reading.execute_wrapper(_capture(statements)):
            User.objects.filter(username="nobody").exists()
    assert len(statements) == 3
    assert statements[0] == "SELECT /* perfconsole */ 1"
    assert statements[1].startswith("WITH /* perfconsole */ a")
    assert statements[2].startswith("SELECT /* perfconsole */ ")


@pytest.mark.django_db
def test_a_raw_connection_has_the_consoles_settings():
    with raw_connection() as conn:
        row = conn.execute(
            "SELECT current_setting('application_name'), current_user,"
            " current_database()"
        ).fetchone()
        dsn = conn.info.get_parameters()
    connection.ensure_connection()
    own = connection.connection.info
    assert row == (
        connection.settings_dict["OPTIONS"]["application_name"],
        own.user,
        own.dbname,
    )
    assert dsn["connect_timeout"] == str(
        connection.settings_dict["OPTIONS"]["connect_timeout"]
    )
    assert conn.closed


@pytest.mark.django_db
def test_generic_plan_before_16_frees_a_leftover_prepared_statement():
    statement = "SELECT * FROM auth_user WHERE id = $1"
    with connection.cursor() as cursor:
        # A failed plan on a pooled connection leaves its statement behind.
        cursor.execute(f"PREPARE {PREPARED_PLAN} AS SELECT 1")
        session = TaggedCursor(cursor, server_version=150000)
        with connection.cursor():
            rows = generic_plan(session, statement, 1, "JSON")
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE name = %s",
            [PREPARED_PLAN],
        )
        left = cursor.fetchone()[0]
    assert "auth_user" in str(rows[0][0])
    assert left == 0


@pytest.mark.django_db
def test_cache_hits_match_pg_stat_database():
    hits = cache_hits()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT datname, blks_hit, blks_read FROM pg_stat_database"
            " WHERE datname = current_database()"
        )
        name, hit, read = cursor.fetchone()
    database = hits["database"]
    assert hits["database_name"] == name
    # The counters only grow; this read came after cache_hits().
    assert database.hit <= hit and database.read <= read
    requested = database.hit + database.read
    expected = round(100 * database.hit / requested, 2) if requested else None
    assert database.pct == expected
