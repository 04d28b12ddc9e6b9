"""The analyzer weighs health findings by the field each check declares."""

import pytest
from django.db import connection

from perfconsole.analyzer.health import health_findings
from perfconsole.health.registry import registered_checks

from .conftest import LOW_THRESHOLDS, flush_statistics

SCHEMA = "analyzer_weights"
NO_AUTOVACUUM = "WITH (autovacuum_enabled = off)"
# The bloated table is small: lower the bloat floor to it.
THRESHOLDS = {**LOW_THRESHOLDS, "table_bloat_min_bytes": 512 * 1024}


def _execute(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else None


@pytest.fixture
def bloat_and_dead_rows(transactional_db, settings):
    """Create a table with 1 500 dead rows and one 90 % empty after a vacuum.

    Autovacuum is off for both, so the dead rows and the empty pages stay.
    """
    settings.HEALTH_THRESHOLDS = THRESHOLDS
    _execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    _execute(f"CREATE SCHEMA {SCHEMA}")
    _execute(f"CREATE TABLE {SCHEMA}.dead (id int PRIMARY KEY, v int) {NO_AUTOVACUUM}")
    _execute(f"INSERT INTO {SCHEMA}.dead SELECT g, g FROM generate_series(1, 2000) g")
    _execute(f"DELETE FROM {SCHEMA}.dead WHERE id > 500")
    _execute(
        f"CREATE TABLE {SCHEMA}.bloated (id int PRIMARY KEY, v int) {NO_AUTOVACUUM}"
    )
    _execute(
        f"INSERT INTO {SCHEMA}.bloated SELECT g, g FROM generate_series(1, 40000) g"
    )
    _execute(f"DELETE FROM {SCHEMA}.bloated WHERE id % 10 <> 0")
    _execute(f"VACUUM {SCHEMA}.bloated")
    _execute(f"ANALYZE {SCHEMA}.dead, {SCHEMA}.bloated")
    flush_statistics()
    yield
    _execute(f"DROP SCHEMA {SCHEMA} CASCADE")


def _finding(findings, check, table):
    (finding,) = [
        f for f in findings if f.check == check and f.subject == f"{SCHEMA}.{table}"
    ]
    return finding


def test_dead_rows_and_bloat_weigh_their_findings(bloat_and_dead_rows):
    findings = health_findings([])

    (dead_rows,) = _execute(
        "SELECT n_dead_tup FROM pg_stat_user_tables"
        f" WHERE relid = '{SCHEMA}.dead'::regclass"
    )[0]
    dead = _finding(findings, "dead_tuples", "dead")
    # No size field on this check: unweighted, the finding weighed nothing.
    assert dead_rows >= 1500
    assert dead.weight == float(dead.evidence["dead_rows"]) == float(dead_rows)
    assert dead.severity == "warning"

    ((table_bytes,),) = _execute(f"SELECT pg_relation_size('{SCHEMA}.bloated')")
    bloat = _finding(findings, "table_bloat", "bloated")
    # The wasted bytes, not the whole table's size (what it weighed before).
    assert bloat.evidence["size_bytes"] == table_bytes
    assert bloat.weight == float(bloat.evidence["bloat_bytes"])
    assert 0.8 * table_bytes <= bloat.weight < table_bytes
    assert bloat.severity == "warning"


def test_every_weight_names_a_field_its_check_declares():
    weights = {check.key: check.weight for check in registered_checks()}

    assert weights["table_bloat"] == weights["index_bloat"] == "bloat_bytes"
    assert weights["dead_tuples"] == "dead_rows"
    for check in registered_checks():
        assert check.weight is None or check.weight in check.fields, check.key
