"""Turn the health checks and the settings review into analyzer findings."""

from __future__ import annotations

from perfconsole.health.checks import KEEP
from perfconsole.health.registry import checked_alias, get_check, run_all_checks
from perfconsole.monitoring.settings_review import review_settings

from .findings import CRITICAL, INFO, WARNING, Finding


def health_findings(notes):
    """Return findings for every health check that is not ok.

    A check that pairs one fix statement with each row gives one finding per
    row (per index, table, session); any other gives one finding for the
    check. Impact, recommendation and the weighing field are the check's
    own (see perfconsole.health.registry). Rows a check lists with a reason
    to keep their object (`keep_because`: an unused index that serves a
    foreign key) give one info finding that says why, never "drop this",
    whatever the check's status. A check that could not read its statistics
    adds a note.
    """
    findings = []
    for result in run_all_checks():
        if result.error:
            notes.append(f"{result.title}: {result.error}")
            continue
        check = get_check(result.key)
        kept = [row for row in result.rows if row.get(KEEP)]
        if kept:
            findings.append(_kept_finding(result, kept))
        if result.status == "ok":
            continue
        severity = CRITICAL if result.status == "critical" else WARNING
        per_row = result.rows and len(result.fix_sql) == len(result.rows)
        if per_row and all("subject" in row for row in result.rows):
            for row, fix in zip(result.rows, result.fix_sql, strict=True):
                if row.get(KEEP):
                    continue
                evidence = {k: v for k, v in row.items() if k not in ("subject", KEEP)}
                findings.append(
                    Finding(
                        check=result.key,
                        severity=severity,
                        subject=row["subject"],
                        title=f"{result.title}: {row['subject']}",
                        evidence=evidence or {"summary": result.summary},
                        impact=check.impact,
                        recommendation=check.recommendation,
                        fix_sql=fix,
                        weight=check.row_weight(row),
                    )
                )
        else:
            rows = [row for row in result.rows if not row.get(KEEP)]
            subjects = [row["subject"] for row in rows if "subject" in row]
            if check.database_wide or not subjects:
                subject = "database"
            else:
                subject = ", ".join(subjects[:5])
            findings.append(
                Finding(
                    check=result.key,
                    severity=severity,
                    subject=subject,
                    title=f"{result.title}: {result.summary}",
                    evidence={"summary": result.summary, "rows": rows[:10]},
                    impact=check.impact,
                    recommendation=check.recommendation,
                    fix_sql="\n".join(result.fix_sql),
                    weight=sum(check.row_weight(row) for row in rows),
                )
            )
    return findings


def _kept_finding(result, kept):
    """Return the info finding that says why the kept rows' objects stay."""
    subjects = [str(row.get("subject", "?")) for row in kept]
    if len(kept) == 1:
        title = f"{result.title}: {subjects[0]} is kept: it {kept[0][KEEP]}"
    else:
        title = (
            f"{result.title}: {len(kept)} kept, each for the reason given "
            "(a foreign key, a constraint or a replica)"
        )
    return Finding(
        check=result.key,
        severity=INFO,
        subject=", ".join(subjects[:5])
        + (f" and {len(subjects) - 5} more" if len(subjects) > 5 else ""),
        title=title,
        evidence={
            "kept": [
                {k: v for k, v in row.items() if k in ("subject", KEEP, "size")}
                for row in kept
            ]
        },
        impact="Each costs its writes and cache, but what it serves needs it.",
        recommendation=_keep_sentence(kept),
    )


def _keep_sentence(kept, shown=10):
    """Return "Keep a: it serves ...; b: it backs ...." for the first rows."""
    reasons = [f"{row.get('subject', '?')}: it {row[KEEP]}" for row in kept[:shown]]
    more = len(kept) - shown
    if more > 0:
        reasons.append(f"and {more} more (the health checks page lists them)")
    return "Keep " + "; ".join(reasons) + "."


def settings_findings():
    """Return an info finding for each setting off its recommended value.

    The recommended value is PGTune's for this machine when known, else the
    seed's. A changed setting still waiting for a restart is a warning.
    """
    findings = []
    for row in review_settings(checked_alias()):
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
                    title=f"{row.name} is {row.current or 'empty'}, "
                    f"recommended {wanted}",
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
