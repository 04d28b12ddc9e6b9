"""The analyzer plans monitored statements as the explain role, never as the console.

A trial index is seen only by the console's own connection, so it is tried
only for a statement that can run no one else's code.
"""

import uuid

import pytest
from django.db import connection

from perfconsole.analyzer.suggestions import (
    Unsupported,
    suggest_indexes,
    trial_statement,
)

from .conftest import SCHEMA

ADVISORY_KEY = 515151


@pytest.fixture
def spy(second_connection, problem_fixture):
    """Yield an IMMUTABLE function that locks, then names who plans it."""
    admin = second_connection()
    schema = f"spy_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO PUBLIC")
    admin.execute(
        f"CREATE FUNCTION {schema}.spy() RETURNS int LANGUAGE plpgsql IMMUTABLE"
        f" AS $$ BEGIN PERFORM pg_advisory_lock({ADVISORY_KEY});"
        " RAISE EXCEPTION 'planned as %', session_user; END $$"
    )
    yield f"{schema}.spy()"
    admin.execute(f"DROP SCHEMA {schema} CASCADE")


def _advisory_locks():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
            [ADVISORY_KEY],
        )
        return cursor.fetchall()


@pytest.mark.parametrize("trial_indexes", [True, False])
def test_a_function_in_a_slow_query_runs_as_the_explain_role(spy, trial_indexes):
    query = f"SELECT {spy} AS s, note FROM {SCHEMA}.orders WHERE customer_id = $1"
    row = {"query": query, "queryid": 1, "mean_ms": 100.0, "calls": 100}
    suggestions, skipped = suggest_indexes(
        [row], min_rows=1000, trial_indexes=trial_indexes
    )
    assert suggestions == []
    ((_, reason),) = skipped
    assert "planned as perfconsole_explain" in reason
    assert _advisory_locks() == []


@pytest.mark.django_db
def test_only_plain_statements_on_the_consoles_tables_get_a_trial_index(
    second_connection,
):
    role = f"other_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE trial_own (id int, note text)")
        cursor.execute(f"CREATE ROLE {role}")
        cursor.execute("CREATE TABLE trial_other (id int)")
        cursor.execute(f"ALTER TABLE trial_other OWNER TO {role}")
    assert trial_statement(
        "SELECT note FROM trial_own WHERE id = $1::int ORDER BY note LIMIT $2"
    ) == (
        "SELECT note FROM public.trial_own WHERE id = CAST($1 AS integer)"
        " ORDER BY note LIMIT $2"
    )
    for query, reason in [
        ("SELECT lower(note) FROM trial_own", "FuncCall"),
        ("SELECT note FROM trial_own WHERE id OPERATOR(public.=) 1", "comparisons"),
        ("SELECT note FROM trial_own WHERE note = 'a'::public.t", "built-in types"),
        ("SELECT note FROM trial_own ORDER BY id USING <", "USING"),
        ("SELECT id FROM trial_other", "not a table the console's role owns"),
    ]:
        with pytest.raises(Unsupported, match=reason):
            trial_statement(query)
