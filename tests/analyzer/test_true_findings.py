"""Findings that are true: readable text, JSON evidence as objects, and no
"drop this" for an index a foreign key needs."""

import json

import pytest
from django.core.management import call_command

from perfconsole.analyzer.findings import INFO
from perfconsole.analyzer.report import Options, build_report

from .conftest import LOW_THRESHOLDS, SCHEMA, _execute, flush_statistics

pytestmark = pytest.mark.django_db(transaction=True)

LOW_BARS = ["--slow-query-ms=0", "--slow-query-calls=1", "--min-table-rows=1000"]
# What a Python repr of a dict, a list, a tuple or an object starts with.
REPR_STARTS = ("{'", '{"', "['", '["', "('", "Decimal(", "datetime.", "<")


@pytest.fixture
def activity(problem_fixture, settings):
    """Add users, their activity (user set NULL on delete) and dead rows.

    activity_user_idx is built as the console's own migration builds its
    foreign-key index (partial, WHERE user_id IS NOT NULL); nothing scans it.
    Half of `churn`'s rows are deleted, with autovacuum off for it. Unused
    indexes are reported from 64 kB: the fixture's, not empty tables' ones.
    """
    settings.HEALTH_THRESHOLDS = {**LOW_THRESHOLDS, "unused_index_min_bytes": 65536}
    _execute(f"CREATE TABLE {SCHEMA}.users (id int PRIMARY KEY)")
    _execute(f"INSERT INTO {SCHEMA}.users SELECT generate_series(1, 5000)")
    _execute(
        f"CREATE TABLE {SCHEMA}.activity (id int PRIMARY KEY,"
        f" user_id int REFERENCES {SCHEMA}.users ON DELETE SET NULL)"
    )
    _execute(
        f"INSERT INTO {SCHEMA}.activity SELECT g, g FROM generate_series(1, 5000) g"
    )
    _execute(
        f"CREATE INDEX activity_user_idx ON {SCHEMA}.activity (user_id)"
        " WHERE user_id IS NOT NULL"
    )
    _execute(
        f"CREATE TABLE {SCHEMA}.churn (id int PRIMARY KEY)"
        " WITH (autovacuum_enabled = false)"
    )
    _execute(f"INSERT INTO {SCHEMA}.churn SELECT generate_series(1, 3000)")
    _execute(f"DELETE FROM {SCHEMA}.churn WHERE id <= 1500")
    _execute(f"ANALYZE {SCHEMA}.users, {SCHEMA}.activity")
    flush_statistics()


def _strings(value):
    """Yield every string inside a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def test_json_evidence_is_objects_and_numbers_never_reprs(activity, tmp_path):
    output = tmp_path / "report.json"
    call_command("analyzedb", "--format=json", f"--output={output}", *LOW_BARS)
    document = json.loads(output.read_text())

    reprs = [
        text
        for text in _strings(document)
        if text.startswith(REPR_STARTS) or text == "None" or "=None" in text
    ]
    assert reprs == []
    findings = document["findings"]
    assert all(isinstance(f["evidence"], dict) for f in findings)
    # Shares are numbers, not their text.
    shares = {
        (f["check"], key): value
        for f in findings
        for key, value in f["evidence"].items()
        if key.endswith("_pct") and value is not None
    }
    assert ("dead_tuples", "dead_pct") in shares
    assert ("missing_indexes", "seq_scan_pct") in shares
    assert all(isinstance(value, int | float) for value in shares.values()), shares


def test_the_text_report_never_says_none_or_is_comma(activity, capsys):
    call_command("analyzedb", *LOW_BARS)
    text = capsys.readouterr().out

    assert "None" not in text
    assert "is ," not in text
    assert "rows=0:" not in text
    assert "[INFO] Unused indexes:" in text


def test_the_html_report_shows_no_python_reprs(activity, tmp_path):
    output = tmp_path / "report.html"
    call_command("analyzedb", "--format=html", f"--output={output}", *LOW_BARS)
    html = output.read_text()

    assert "None" not in html
    assert "{&#x27;" not in html and "[&#x27;" not in html


def test_the_index_a_foreign_key_needs_is_kept_with_its_reason(activity):
    report = build_report(Options.from_settings(min_table_rows=1000))
    index = f"{SCHEMA}.activity_user_idx"

    drops = [
        f for f in report.findings if f"DROP INDEX CONCURRENTLY {index}" in f.fix_sql
    ]
    assert drops == []
    (kept,) = [
        f for f in report.findings if f.check == "unused_indexes" and f.severity == INFO
    ]
    assert kept.fix_sql == ""
    reasons = {row["subject"]: row["keep_because"] for row in kept.evidence["kept"]}
    assert reasons[index].startswith(
        f"serves the foreign key {SCHEMA}.activity_user_id_fkey (on delete set null)"
    )
    assert reasons[f"{SCHEMA}.activity_pkey"] == (
        f"backs the primary key constraint {SCHEMA}.activity_pkey"
    )
    assert kept.recommendation.startswith("Keep ")
    # An index nothing needs is still recommended for dropping.
    assert any(
        f"DROP INDEX CONCURRENTLY {SCHEMA}.orders_note_idx;" == f.fix_sql
        for f in report.findings
    )
