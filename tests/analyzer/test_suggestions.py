"""The index suggester's parser and column choice (no database needed)."""

import pytest

from perfconsole.analyzer.catalog import quote_ident
from perfconsole.analyzer.suggestions import (
    EQUALITY,
    NOT_NULL,
    RANGE,
    Scan,
    Suggestion,
    Unsupported,
    choose_columns,
    covered_by,
    parse_scan,
    parse_scans,
)


def test_it_reads_where_and_order_by_of_a_single_table():
    scan = parse_scan(
        "SELECT id FROM app.events e WHERE e.study_id = $1 AND kind IN ($2, $3)"
        " AND created_at >= $4 AND deleted_at IS NOT NULL"
        " ORDER BY created_at DESC LIMIT $5"
    )
    assert scan.table == "app.events"
    assert scan.predicates == [
        ("study_id", EQUALITY),
        ("kind", EQUALITY),
        ("created_at", RANGE),
        ("deleted_at", NOT_NULL),
    ]
    assert scan.order_by == ["created_at"]
    assert scan.parameters == 5


def test_it_reads_a_reversed_comparison():
    scan = parse_scan("SELECT * FROM t WHERE $1 < amount")
    assert scan.predicates == [("amount", RANGE)]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM a JOIN b USING (id) WHERE a.x = $1",
        "SELECT * FROM a JOIN a ON a.id = a.parent_id",
        "SELECT * FROM a WHERE x = $1 OR y = $2",
        "SELECT * FROM a WHERE lower(x) = $1",
        "SELECT * FROM a WHERE x LIKE $1",
        "SELECT * FROM a",
        "UPDATE a SET x = $1 WHERE y = $2",
        "SELECT * FROM a WHERE x = $1 UNION SELECT * FROM b WHERE y = $2",
        "SELECT * FROM (SELECT * FROM a) s WHERE x = $1",
        "not sql at all",
    ],
)
def test_it_leaves_out_what_it_does_not_understand(query):
    with pytest.raises(Unsupported):
        parse_scan(query)


def test_it_gives_each_joined_table_its_own_conditions():
    scans = parse_scans(
        "SELECT m.organization_id, o.name, m.role"
        "  FROM organization_members AS m"
        "  JOIN organizations AS o ON o.id = m.organization_id"
        " WHERE m.user_id = $1 AND o.status IN ($2, $3) AND deleted IS NULL"
        " ORDER BY m.joined_at DESC"
    )
    by_table = {scan.table: scan for scan in scans}
    members, organizations = by_table["organization_members"], by_table["organizations"]
    # The join key counts as an equality on both sides; `deleted` has no
    # table name in a join, so it is left out.
    assert members.predicates == [("organization_id", EQUALITY), ("user_id", EQUALITY)]
    assert members.order_by == ["joined_at"]
    assert organizations.predicates == [("id", EQUALITY), ("status", EQUALITY)]
    assert organizations.order_by == []


def test_a_single_table_query_is_one_scan():
    with pytest.raises(Unsupported):
        parse_scan("SELECT * FROM a, b WHERE a.x = $1 AND b.y = $2")
    assert parse_scan("SELECT * FROM a, b WHERE a.x = $1").table == "a"


def test_it_skips_a_repeated_column():
    scan = Scan("t", [("user_id", EQUALITY), ("user_id", EQUALITY), ("kind", EQUALITY)])
    stats = {
        "user_id": {"null_frac": 0, "n_distinct": 100},
        "kind": {"null_frac": 0, "n_distinct": 20},
    }
    assert choose_columns(scan, 1_000_000, stats) == ["user_id", "kind"]


def test_it_picks_the_most_selective_column_first():
    scan = Scan("t", [("status", EQUALITY), ("customer_id", EQUALITY)])
    stats = {
        "status": {"null_frac": 0, "n_distinct": 5},
        "customer_id": {"null_frac": 0, "n_distinct": -0.1},
    }
    # 1 000 000 rows: customer_id leaves 10 rows, status 200 000.
    assert choose_columns(scan, 1_000_000, stats) == ["customer_id"]


def test_it_adds_a_second_column_that_still_cuts_rows():
    scan = Scan("t", [("study_id", EQUALITY), ("kind", EQUALITY)])
    stats = {
        "study_id": {"null_frac": 0, "n_distinct": 100},
        "kind": {"null_frac": 0, "n_distinct": 20},
    }
    assert choose_columns(scan, 1_000_000, stats) == ["study_id", "kind"]


def test_it_appends_the_sort_column_after_equalities():
    scan = Scan("t", [("study_id", EQUALITY)], order_by=["created_at"])
    stats = {"study_id": {"null_frac": 0, "n_distinct": 1000}}
    assert choose_columns(scan, 1_000_000, stats) == ["study_id", "created_at"]


def test_it_finds_an_index_that_already_leads_with_the_columns():
    indexes = [
        {
            "index_name": "t_a_b_idx",
            "method": "btree",
            "is_valid": True,
            "is_partial": False,
            "key_columns": ["a", "b"],
        }
    ]
    assert covered_by(["a"], indexes) == "t_a_b_idx"
    assert covered_by(["b"], indexes) is None


def test_it_quotes_identifiers_only_when_needed():
    assert quote_ident("orders") == "orders"
    assert quote_ident("Orders") == '"Orders"'
    assert quote_ident("order") == '"order"'
    assert quote_ident('we"ird') == '"we""ird"'


def test_the_suggested_statement_is_concurrent_and_idempotent():
    suggestion = Suggestion(
        query="",
        queryid=1,
        mean_ms=1.0,
        calls=1,
        schema="public",
        table_name="user",
        estimated_rows=1,
        columns=["org_id", "Kind"],
    )
    assert suggestion.create_sql() == (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS user_org_id_kind_idx"
        ' ON public."user"'
        ' (org_id, "Kind");'
    )
