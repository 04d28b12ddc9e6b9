"""Findings that are true: unused indexes that serve something are kept, and
dead rows are weighed by their share and by whether autovacuum keeps up.

Each test builds its tables for real (committed, so the statistics count
them) in the schema `health_weighed`, dropped at the end.
"""

import pytest
from django.db import connection

from perfconsole.health import checks
from perfconsole.health.registry import Outcome, without_console_rows
from tests.health.conftest import flush_stats

SCHEMA = "health_weighed"
NO_AUTOVACUUM = "WITH (autovacuum_enabled = false)"
# The fixture's indexes are about 700 kB: lower PgHero's 10 MB floor to them.
THRESHOLDS = {"unused_index_min_bytes": 256 * 1024}


def _execute(*statements):
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        flush_stats(cursor)


@pytest.fixture
def schema(transactional_db, settings):
    settings.HEALTH_THRESHOLDS = dict(THRESHOLDS)
    _execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE", f"CREATE SCHEMA {SCHEMA}")
    yield SCHEMA
    _execute(f"DROP SCHEMA {SCHEMA} CASCADE")


def _rows(result):
    return {
        row["subject"].removeprefix(f"{SCHEMA}."): row
        for row in result.rows
        if row["subject"].startswith(f"{SCHEMA}.")
    }


def _fix_for(result, index):
    (fix,) = [
        sql
        for sql, row in zip(result.fix_sql, result.rows, strict=True)
        if row["subject"] == f"{SCHEMA}.{index}"
    ]
    return fix


@pytest.fixture
def activity(schema):
    """30 000 users and an activity row each, whose user is set NULL on delete.

    activity_user_idx is the console's own kind of foreign-key index (partial,
    WHERE user_id IS NOT NULL); nothing ever scans it.
    """
    _execute(
        f"CREATE TABLE {SCHEMA}.users (id int PRIMARY KEY) {NO_AUTOVACUUM}",
        f"INSERT INTO {SCHEMA}.users SELECT g FROM generate_series(1, 30000) g",
        f"""CREATE TABLE {SCHEMA}.activity (
              id int PRIMARY KEY,
              user_id int REFERENCES {SCHEMA}.users ON DELETE SET NULL
            ) {NO_AUTOVACUUM}""",
        f"INSERT INTO {SCHEMA}.activity SELECT g, g FROM generate_series(1, 30000) g",
        f"CREATE INDEX activity_user_idx ON {SCHEMA}.activity (user_id)"
        " WHERE user_id IS NOT NULL",
        f"ANALYZE {SCHEMA}.users, {SCHEMA}.activity",
    )


def test_the_index_of_a_foreign_key_is_kept_and_says_why(activity):
    result = checks.check_unused_indexes()

    rows = _rows(result)
    assert set(rows) == {"activity_user_idx", "activity_pkey"}
    kept = rows["activity_user_idx"]["keep_because"]
    assert kept.startswith(
        f"serves the foreign key {SCHEMA}.activity_user_id_fkey (on delete set null)"
    )
    assert rows["activity_pkey"]["keep_because"] == (
        f"backs the primary key constraint {SCHEMA}.activity_pkey"
    )
    assert _fix_for(result, "activity_user_idx").startswith(
        f"-- keep {SCHEMA}.activity_user_idx: it serves the foreign key"
    )
    assert not any("DROP" in sql for sql in result.fix_sql if SCHEMA in sql)
    assert "unused indexes kept: each serves" in result.summary


def test_dropping_the_kept_index_would_raise_the_foreign_key_finding(activity):
    def unindexed():
        return {
            row["subject"]
            for row in checks.check_unindexed_foreign_keys().rows
            if row["subject"].startswith(f"{SCHEMA}.")
        }

    assert unindexed() == set()
    _execute(f"DROP INDEX {SCHEMA}.activity_user_idx")
    assert unindexed() == {f"{SCHEMA}.activity_user_id_fkey"}


def test_of_two_unused_indexes_for_one_foreign_key_the_smaller_is_kept(activity):
    _execute(f"CREATE INDEX activity_user_id_id_idx ON {SCHEMA}.activity (user_id, id)")

    result = checks.check_unused_indexes()

    rows = _rows(result)
    assert rows["activity_user_idx"]["keep_because"].startswith("serves the foreign")
    assert rows["activity_user_id_id_idx"]["keep_because"] == ""
    assert _fix_for(result, "activity_user_id_id_idx") == (
        f"DROP INDEX CONCURRENTLY {SCHEMA}.activity_user_id_id_idx;"
    )
    assert result.status == "warning"


def test_an_index_the_foreign_key_does_not_need_may_be_dropped(activity):
    # Scanned, the second index serves the lookups: the unused one may go.
    _execute(
        f"CREATE INDEX activity_user_id_id_idx ON {SCHEMA}.activity (user_id, id)",
        "SET enable_seqscan = off",
        "SET enable_bitmapscan = off",
        f"SELECT count(*) FROM {SCHEMA}.activity WHERE user_id = 3 AND id > 0",
        "RESET enable_seqscan",
        "RESET enable_bitmapscan",
    )

    rows = _rows(checks.check_unused_indexes())

    assert "activity_user_id_id_idx" not in rows
    assert rows["activity_user_idx"]["keep_because"] == ""


def test_with_a_replica_no_index_is_recommended_for_dropping(activity, settings):
    _execute(f"CREATE INDEX activity_id_idx ON {SCHEMA}.activity (id, user_id)")
    settings.REPLICA_DATABASE_URL = "postgresql://console@replica.example/app"

    result = checks.check_unused_indexes()

    kept = _rows(result)["activity_id_idx"]["keep_because"]
    assert "scans counted here are this server's only" in kept
    assert not any(sql.startswith("DROP") for sql in result.fix_sql)
    assert result.status == "ok"
    assert "none is recommended for dropping" in result.summary


def _dead_rows_table(name, rows, deleted, options=NO_AUTOVACUUM):
    """Create a table of `rows` rows, analyze it, then delete `deleted` of them."""
    _execute(
        f"CREATE TABLE {SCHEMA}.{name} (id int PRIMARY KEY, v int) {options}",
        f"INSERT INTO {SCHEMA}.{name} SELECT g, g FROM generate_series(1, {rows}) g",
    )
    # ANALYZE sets the live count: the insert's counts must be in before it.
    _execute(
        f"ANALYZE {SCHEMA}.{name}", f"DELETE FROM {SCHEMA}.{name} WHERE id <= {deleted}"
    )


def test_a_small_share_of_dead_rows_is_not_a_warning(schema):
    # 1 500 dead of 300 000 rows (0.5 %), far below autovacuum's trigger.
    _dead_rows_table("big", 301_500, 1_500)

    result = checks.check_dead_tuples()

    assert _rows(result) == {}
    assert "fine: under 10.0 % of their rows, and autovacuum keeps up" in (
        result.summary
    )


def test_a_large_share_of_dead_rows_is_a_warning(schema):
    # 1 500 dead of 3 000 rows.
    _dead_rows_table("small", 4_500, 1_500)

    result = checks.check_dead_tuples()

    row = _rows(result)["small"]
    assert (row["dead_rows"], row["live_rows"]) == (1_500, 3_000)
    assert float(row["dead_pct"]) == 33.3
    assert "33.3 % of its rows are dead" in row["reason"]
    assert result.status == "warning"
    assert f"VACUUM (ANALYZE) {SCHEMA}.small;" in result.fix_sql


def test_dead_rows_past_autovacuum_trigger_without_autovacuum_warn(schema):
    # 0.5 % dead, but this table's own trigger is 50 + 0.001 x 301 500 = 352
    # dead rows, and autovacuum is off for it: nothing will ever vacuum it.
    _dead_rows_table(
        "tuned",
        301_500,
        1_500,
        "WITH (autovacuum_enabled = false, autovacuum_vacuum_scale_factor = 0.001)",
    )

    row = _rows(checks.check_dead_tuples())["tuned"]

    assert row["autovacuum_trigger"] == 352
    assert row["reason"] == (
        "past autovacuum's trigger (352 dead rows) with autovacuum off for it"
    )


def test_kept_rows_alone_are_no_warning_once_console_rows_are_hidden():
    # The only index to drop is on a console table (hidden by default); the
    # product's unused index serves a foreign key and stays.
    outcome = Outcome(
        "warning",
        "1 index to drop.",
        [
            {"subject": "public.auth_permission_x", "table_name": "auth_permission"},
            {
                "subject": "public.idx_collaboration_activity_user",
                "table_name": "public.collaboration_activity",
                "keep_because": "serves the foreign key …",
            },
        ],
        ["DROP INDEX CONCURRENTLY public.auth_permission_x;", "-- keep …"],
    )

    shown = without_console_rows(outcome)

    assert [row["subject"] for row in shown.rows] == [
        "public.idx_collaboration_activity_user"
    ]
    assert shown.fix_sql == ["-- keep …"]
    assert shown.status == "ok"
