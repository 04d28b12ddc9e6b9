"""How health check results become findings (the checks themselves run for
real in test_report; here their results are given, to cover every shape)."""

from perfconsole.analyzer import health
from perfconsole.health.registry import CheckResult


def _findings(monkeypatch, results):
    monkeypatch.setattr(health, "run_all_checks", lambda: results)
    notes = []
    return health.health_findings(notes), notes


def test_it_gives_one_finding_per_row_with_its_own_fix(monkeypatch):
    result = CheckResult(
        "unused_indexes",
        "Unused indexes",
        "warning",
        "2 indexes not scanned.",
        rows=[
            {"subject": "public.a_idx", "size_bytes": 10},
            {"subject": "public.b_idx", "size_bytes": 20},
        ],
        fix_sql=["DROP INDEX CONCURRENTLY public.a_idx;", "DROP INDEX ..b;"],
    )
    findings, notes = _findings(monkeypatch, [result])
    assert [(f.subject, f.fix_sql, f.weight) for f in findings] == [
        ("public.a_idx", "DROP INDEX CONCURRENTLY public.a_idx;", 10.0),
        ("public.b_idx", "DROP INDEX ..b;", 20.0),
    ]
    assert findings[0].evidence == {"size_bytes": 10}
    assert notes == []


def test_it_gives_one_finding_for_a_database_wide_check(monkeypatch):
    result = CheckResult(
        "cache_hit_rate",
        "Cache hit rate",
        "critical",
        "Tables 40 %, indexes 99 %.",
        rows=[{"subject": "public.big", "heap_blks_read": 5}],
        fix_sql=["-- Raise shared_buffers:", "ALTER SYSTEM SET shared_buffers = 'x';"],
    )
    (finding,), _ = _findings(monkeypatch, [result])
    assert finding.subject == "database"
    assert finding.severity == "critical"
    assert finding.fix_sql.splitlines() == result.fix_sql
    assert finding.evidence["rows"] == result.rows


def test_it_skips_ok_checks_and_notes_unreadable_ones(monkeypatch):
    results = [
        CheckResult("dead_tuples", "Dead tuples", "ok", "Fine."),
        CheckResult(
            "sequences",
            "Sequences",
            "warning",
            "Statistics unavailable right now: lock timeout.",
            error="Statistics unavailable right now: lock timeout.",
        ),
    ]
    findings, notes = _findings(monkeypatch, results)
    assert findings == []
    assert notes == ["Sequences: Statistics unavailable right now: lock timeout."]
