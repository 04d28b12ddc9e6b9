"""The performance migration: forward, backward, and rebuilding INVALID indexes."""

import pytest
from django.core.management import call_command
from django.db import ProgrammingError, connection

from perfconsole.collaboration.performance import FUNCTIONS, INDEXES, VIEW, verify

from .conftest import run_sql

pytestmark = pytest.mark.django_db(transaction=True)


def index_state(name):
    """Return (valid, definition) of an index, or None."""
    rows = run_sql(
        "SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index AS i"
        " WHERE i.indexrelid = to_regclass(%s)",
        [name],
    )
    return rows[0] if rows else None


def built_as_defined(spec):
    """Return whether the index exists, is valid and is its .sql file's."""
    state = index_state(spec.name)
    return state is not None and state[0] and spec.matches(state[1], "public")


def test_it_builds_every_index_as_the_seed_defines_it():
    for spec in INDEXES:
        assert built_as_defined(spec), spec.name


def test_it_migrates_backward_and_forward(remigrate):
    call_command("migrate", "collaboration", "0001", verbosity=0)
    assert all(index_state(spec.name) is None for spec in INDEXES)
    assert run_sql("SELECT to_regclass(%s)", [VIEW.name]) == [(None,)]
    for spec in FUNCTIONS:
        assert run_sql("SELECT to_regprocedure(%s)", [spec.signature]) == [(None,)]
    call_command("migrate", "collaboration", "zero", verbosity=0)
    assert run_sql("SELECT to_regclass('organizations')") == [(None,)]
    call_command("migrate", "collaboration", verbosity=0)
    assert all(finding.ok for finding in verify())


def test_it_rebuilds_an_index_left_invalid_by_a_failed_build(remigrate, acme):
    call_command("migrate", "collaboration", "0001", verbosity=0)
    # Two studies share (organization, status, created_at): a UNIQUE
    # concurrent build under the seed's name fails for real and leaves an
    # INVALID index behind, as an interrupted migration would.
    run_sql(
        "UPDATE studies SET status = 'active', created_at = %s",
        [acme.now],
    )
    with pytest.raises(Exception, match="could not create unique index"):
        run_sql(
            "CREATE UNIQUE INDEX CONCURRENTLY idx_studies_organization_lookup"
            " ON studies (organization_id, status, created_at DESC)"
        )
    assert index_state("idx_studies_organization_lookup")[0] is False

    call_command("migrate", "collaboration", verbosity=0)

    spec = next(s for s in INDEXES if s.name == "idx_studies_organization_lookup")
    assert built_as_defined(spec)


def test_it_keeps_a_valid_index_when_run_again(remigrate):
    before = run_sql(
        "SELECT oid FROM pg_class WHERE relname = 'idx_studies_organization_lookup'"
    )
    call_command("migrate", "collaboration", "0002", verbosity=0)
    # Forward again over existing objects: 0003 only, the indexes are kept.
    call_command("migrate", "collaboration", verbosity=0)
    after = run_sql(
        "SELECT oid FROM pg_class WHERE relname = 'idx_studies_organization_lookup'"
    )
    assert before == after


def test_it_refuses_to_run_inside_a_transaction():
    from django.db import transaction
    from django.db.migrations.state import ProjectState

    from perfconsole.collaboration.operations import BuildIndexConcurrently

    operation = BuildIndexConcurrently(
        "study", INDEXES[-1], "indexes/idx_studies_organization_lookup_v1.sql"
    )
    with pytest.raises(Exception, match="cannot be executed inside a transaction"):
        with transaction.atomic(), connection.schema_editor(atomic=False) as editor:
            operation.database_forwards(
                "collaboration", editor, ProjectState(), ProjectState()
            )


def test_sqlmigrate_shows_the_sql(capsys):
    call_command("sqlmigrate", "collaboration", "0002")
    out = capsys.readouterr().out
    for spec in INDEXES:
        assert f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {spec.name}" in out
    assert "CREATE OR REPLACE FUNCTION get_organization_analytics" in out
    assert "CREATE MATERIALIZED VIEW team_productivity_analytics" in out
    assert "SET lock_timeout = '5s'" in out


def test_the_view_requires_its_unique_index_for_concurrent_refresh():
    run_sql(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {VIEW.name}")
    with pytest.raises(ProgrammingError):
        run_sql("REFRESH MATERIALIZED VIEW CONCURRENTLY no_such_view")


def test_it_recovers_from_a_build_stopped_by_lock_timeout(
    remigrate, acme, second_connection, monkeypatch
):
    from perfconsole.collaboration import operations

    monkeypatch.setattr(operations, "LOCK_TIMEOUT", "300ms")
    call_command("migrate", "collaboration", "0001", verbosity=0)
    # An open writing transaction: the concurrent build creates its index,
    # then waits for this writer and gives up at lock_timeout.
    writer = second_connection(autocommit=False)
    writer.execute("UPDATE studies SET title = title")
    with pytest.raises(Exception, match="lock timeout"):
        call_command("migrate", "collaboration", verbosity=0)
    # The indexes of other tables were built; the one on studies is INVALID.
    assert index_state(INDEXES[0].name)[0] is True
    studies = next(s for s in INDEXES if s.table == "studies")
    assert index_state(studies.name)[0] is False
    writer.rollback()

    call_command("migrate", "collaboration", verbosity=0)

    assert built_as_defined(studies)
    assert all(finding.ok for finding in verify())
