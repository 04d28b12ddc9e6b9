"""Turn the health checks and the settings review into analyzer findings."""

from __future__ import annotations

from perfconsole.health.checks import run_all_checks
from perfconsole.monitoring.settings_review import review_settings

from .findings import CRITICAL, INFO, WARNING, Finding

# Why each health problem matters, and what to do about it, per check key.
IMPACT = {
    "cache_hit_rate": "Blocks missing from shared buffers come from the OS cache "
    "or disk, many times slower.",
    "missing_indexes": "Every sequential scan reads the whole table, so its "
    "queries slow down as it grows.",
    "unused_indexes": "Kept up to date on every write and held in cache without "
    "serving a single read.",
    "duplicate_indexes": "Every write updates both indexes, while the longer one "
    "serves the same queries.",
    "invalid_indexes": "The planner never uses it, yet every write still updates it.",
    "unindexed_foreign_keys": "Deleting or re-keying a referenced row scans the "
    "whole table for rows that point at it, once per row, holding locks.",
    "table_bloat": "Dead space makes scans read more pages than the data needs.",
    "index_bloat": "A bloated index needs more pages in cache and more reads "
    "per lookup.",
    "dead_tuples": "Dead rows slow down scans and index visibility checks until "
    "vacuumed.",
    "vacuum_analyze": "Stale statistics mislead the planner; late vacuums let "
    "dead rows pile up.",
    "wraparound": "At the limit PostgreSQL stops accepting writes to protect the data.",
    "sequences": "Inserts fail once the sequence reaches its type's maximum.",
    "connections": "Each connection costs memory; past max_connections new "
    "clients are refused.",
    "idle_in_transaction": "An open transaction holds its locks and keeps vacuum "
    "from removing dead rows.",
    "long_running_queries": "A long query holds locks and a snapshot, delaying "
    "vacuum and other sessions.",
    "blocked_sessions": "Blocked sessions stall until the lock holder finishes.",
}
RECOMMENDATION = {
    "cache_hit_rate": "Raise shared_buffers, or find the queries that read most "
    "from disk (slow queries below).",
    "missing_indexes": "Index the columns its queries filter on; see the index "
    "suggestions.",
    "unused_indexes": "Check replicas (each keeps its own scan counts) and rare "
    "jobs, then drop it.",
    "duplicate_indexes": "Drop it: the covering index serves its queries.",
    "invalid_indexes": "Rebuild it, or drop it if it is a failed concurrent build.",
    "unindexed_foreign_keys": "Index the referencing columns (concurrently); a "
    "partial index WHERE column IS NOT NULL serves when most rows are NULL.",
    "table_bloat": "Rewrite the table in a quiet hour (VACUUM FULL locks it) or "
    "with pg_repack.",
    "index_bloat": "Rebuild it concurrently.",
    "dead_tuples": "Vacuum it, and let autovacuum visit it more often.",
    "vacuum_analyze": "Vacuum and analyze it; check that autovacuum keeps up.",
    "wraparound": "Freeze it now with VACUUM (FREEZE).",
    "sequences": "Widen the sequence and its column to bigint.",
    "connections": "Put a pooler (PgBouncer) in front or lower the pool sizes.",
    "idle_in_transaction": "Find the application that holds it open; terminate "
    "it if it is stuck.",
    "long_running_queries": "Cancel it if it is stuck, and find out why it runs "
    "so long.",
    "blocked_sessions": "Cancel the blocking statement or finish its transaction.",
}
# Checks about the whole server or database: their rows only explain.
DATABASE_WIDE = {"cache_hit_rate", "connections"}
# Row values that make one finding weigh more than another of the same check.
WEIGHT_KEYS = ("size_bytes", "seq_tup_read", "wasted_bytes", "n_dead_tup")


def health_findings(notes):
    """Return findings for every health check that is not ok.

    A check that pairs one fix statement with each row gives one finding per
    row (per index, table, session); any other gives one finding for the
    check. A check that could not read its statistics adds a note.
    """
    findings = []
    for result in run_all_checks():
        if result.error:
            notes.append(f"{result.title}: {result.error}")
            continue
        if result.status == "ok":
            continue
        severity = CRITICAL if result.status == "critical" else WARNING
        impact = IMPACT.get(result.key, result.summary)
        recommendation = RECOMMENDATION.get(result.key, result.summary)
        per_row = result.rows and len(result.fix_sql) == len(result.rows)
        if per_row and all("subject" in row for row in result.rows):
            for row, fix in zip(result.rows, result.fix_sql, strict=True):
                evidence = {k: v for k, v in row.items() if k != "subject"}
                findings.append(
                    Finding(
                        check=result.key,
                        severity=severity,
                        subject=row["subject"],
                        title=f"{result.title}: {row['subject']}",
                        evidence=evidence or {"summary": result.summary},
                        impact=impact,
                        recommendation=recommendation,
                        fix_sql=fix,
                        weight=_weight(row),
                    )
                )
        else:
            subjects = [row["subject"] for row in result.rows if "subject" in row]
            if result.key in DATABASE_WIDE or not subjects:
                subject = "database"
            else:
                subject = ", ".join(subjects[:5])
            findings.append(
                Finding(
                    check=result.key,
                    severity=severity,
                    subject=subject,
                    title=f"{result.title}: {result.summary}",
                    evidence={"summary": result.summary, "rows": result.rows[:10]},
                    impact=impact,
                    recommendation=recommendation,
                    fix_sql="\n".join(result.fix_sql),
                    weight=sum(_weight(row) for row in result.rows),
                )
            )
    return findings


def _weight(row):
    for key in WEIGHT_KEYS:
        value = row.get(key)
        if isinstance(value, int | float):
            return float(value)
    return 0.0


def settings_findings():
    """Return an info finding for each setting off its recommended value.

    The recommended value is PGTune's for this machine when known, else the
    seed's. A changed setting still waiting for a restart is a warning.
    """
    findings = []
    for row in review_settings():
        wanted = row.computed if row.computed is not None else row.seed_recommended
        if row.pending_restart:
            findings.append(
                Finding(
                    check="setting",
                    severity=WARNING,
                    subject=row.name,
                    title=f"{row.name} was changed but waits for a restart",
                    evidence={"current": row.current, "context": row.context},
                    impact="The new value is not in effect until PostgreSQL restarts.",
                    recommendation="Restart PostgreSQL in a quiet moment.",
                )
            )
        elif wanted is not None and row.differs:
            restart = row.context == "postmaster"
            findings.append(
                Finding(
                    check="setting",
                    severity=INFO,
                    subject=row.name,
                    title=f"{row.name} is {row.current}, recommended {wanted}",
                    evidence={
                        "current": row.current,
                        "recommended": wanted,
                        "seed": row.seed_recommended,
                        "pgtune": row.computed,
                        "category": row.category,
                    },
                    impact=f"The recommended value suits this machine's "
                    f"{row.category} for a web workload.",
                    recommendation=f"Set {row.name} = {wanted}"
                    + (" and restart PostgreSQL." if restart else " and reload."),
                    fix_sql=f"ALTER SYSTEM SET {row.name} = '{wanted}';"
                    + (
                        "  -- then restart PostgreSQL"
                        if restart
                        else " SELECT pg_reload_conf();"
                    ),
                )
            )
    return findings
