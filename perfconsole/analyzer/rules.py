"""Turn catalog rows into findings: indexes, table scans, cache, settings."""

from __future__ import annotations

from .catalog import qualified_name
from .findings import CRITICAL, INFO, WARNING, Finding

MB = 1024 * 1024

# The seed's recommended settings for this workload, with the reason.
SEED_SETTINGS = {
    "random_page_cost": ("1.1", "SSD storage makes random reads nearly as cheap"),
    "effective_io_concurrency": ("200", "SSDs serve many concurrent reads"),
    "checkpoint_completion_target": ("0.9", "spreads checkpoint writes out"),
    "default_statistics_target": ("100", "enough detail for the planner"),
    "track_io_timing": ("on", "query statistics then show time spent on I/O"),
}


def _size(bytes_):
    """Return a size for people: 8 kB, 12.5 MB, 3.1 GB."""
    for unit, factor in (("GB", 1024**3), ("MB", MB), ("kB", 1024)):
        if bytes_ >= factor:
            return f"{bytes_ / factor:.1f} {unit}"
    return f"{bytes_} bytes"


def duplicate_index_findings(indexes, *, min_bytes):
    """Report indexes whose columns lead another index on the same table.

    A duplicate costs writes and space and buys nothing: every query it
    serves, the longer index serves too. Primary keys are never reported,
    and a unique index only when its twin is unique on the same columns.
    One smaller than min_bytes is only worth a note (info).
    """
    by_table = {}
    for index in indexes:
        if (
            index["is_valid"]
            and not index["has_expressions"]
            and not index["is_partial"]
        ):
            by_table.setdefault(index["table_oid"], []).append(index)
    findings = []
    for table_indexes in by_table.values():
        for index in table_indexes:
            cover = next(
                (
                    other
                    for other in table_indexes
                    if other is not index and _covers(other, index)
                ),
                None,
            )
            if cover is not None:
                findings.append(_duplicate_finding(index, cover, min_bytes))
    return findings


def _covers(other, index):
    """Return True if `other` serves every query `index` serves."""
    if index["is_primary"] or other["method"] != index["method"]:
        return False
    if index["method"] != "btree" and other["key_columns"] != index["key_columns"]:
        return False
    length = len(index["key_columns"])
    if other["key_columns"][:length] != index["key_columns"]:
        return False
    if other["opclasses"].split()[:length] != index["opclasses"].split():
        return False
    if other["options"].split()[:length] != index["options"].split():
        return False
    other_columns = set(other["key_columns"]) | set(other["include_columns"])
    if not set(index["include_columns"]) <= other_columns:
        return False
    if index["is_unique"] and not (
        other["is_unique"] and other["key_columns"] == index["key_columns"]
    ):
        return False
    if other["key_columns"] == index["key_columns"] and len(
        other["include_columns"]
    ) == len(index["include_columns"]):
        # Exact twins: keep the primary key, then the unique one, then the
        # older one, and report the other.
        return (other["is_primary"], other["is_unique"], -other["index_oid"]) > (
            index["is_primary"],
            index["is_unique"],
            -index["index_oid"],
        )
    return True


def _duplicate_finding(index, cover, min_bytes):
    name = qualified_name(index["schema"], index["index_name"])
    return Finding(
        check="duplicate_index",
        severity=WARNING if index["bytes"] >= min_bytes else INFO,
        subject=name,
        title=f"Index {name} is covered by {cover['index_name']}",
        evidence={
            "table": qualified_name(index["schema"], index["table_name"]),
            "columns": index["key_columns"],
            "covered_by": cover["index_name"],
            "covered_by_columns": cover["key_columns"],
            "size_bytes": index["bytes"],
            "scans": index["idx_scan"],
        },
        impact=(
            f"Every write to {index['table_name']} also updates this "
            f"{_size(index['bytes'])} index, which no query needs."
        ),
        recommendation=f"Drop {name}; {cover['index_name']} serves its queries.",
        fix_sql=f"DROP INDEX CONCURRENTLY IF EXISTS {name};",
        weight=index["bytes"],
    )


def unused_index_findings(indexes, *, min_bytes, stats_reset):
    """Report indexes never scanned since the statistics were last reset.

    Unique, primary-key, exclusion and replica-identity indexes enforce
    something, so they are left alone even when never scanned.
    """
    since = (
        f"since the statistics reset of {stats_reset:%Y-%m-%d %H:%M}"
        if stats_reset
        else "since statistics began"
    )
    findings = []
    for index in indexes:
        if (
            index["idx_scan"] == 0
            and index["is_valid"]
            and index["bytes"] >= min_bytes
            and not (
                index["is_unique"]
                or index["is_primary"]
                or index["is_exclusion"]
                or index["is_replident"]
            )
        ):
            name = qualified_name(index["schema"], index["index_name"])
            findings.append(
                Finding(
                    check="unused_index",
                    severity=WARNING,
                    subject=name,
                    title=f"Index {name} has never been scanned {since}",
                    evidence={
                        "table": qualified_name(index["schema"], index["table_name"]),
                        "columns": index["key_columns"],
                        "scans": 0,
                        "size_bytes": index["bytes"],
                        "stats_reset": stats_reset.isoformat() if stats_reset else None,
                    },
                    impact=(
                        f"{_size(index['bytes'])} kept up to date on every write "
                        "without serving a read."
                    ),
                    recommendation=(
                        "Check replicas (each keeps its own scan counts) and "
                        f"rare jobs, then drop {name}."
                    ),
                    fix_sql=f"DROP INDEX CONCURRENTLY IF EXISTS {name};",
                    weight=index["bytes"],
                )
            )
    return findings


def invalid_index_findings(indexes):
    """Report indexes left invalid by a failed concurrent build."""
    findings = []
    for index in indexes:
        if not index["is_valid"] and not index["being_built"]:
            name = qualified_name(index["schema"], index["index_name"])
            findings.append(
                Finding(
                    check="invalid_index",
                    severity=CRITICAL,
                    subject=name,
                    title=f"Index {name} is invalid",
                    evidence={
                        "table": qualified_name(index["schema"], index["table_name"]),
                        "size_bytes": index["bytes"],
                        "definition": index["definition"],
                    },
                    impact=(
                        "The planner never uses it, yet every write still updates it."
                    ),
                    recommendation=(
                        f"Rebuild {name} (or drop it if it is a leftover of a "
                        "failed CREATE INDEX CONCURRENTLY)."
                    ),
                    fix_sql=f"REINDEX INDEX CONCURRENTLY {name};",
                    weight=index["bytes"],
                )
            )
    return findings


def sequential_scan_findings(tables, *, min_rows, min_index_use_pct=95):
    """Report large tables read mostly by sequential scans (PgHero's rule).

    `tables` are rows of monitoring's table_performance_stats.
    """
    findings = []
    for table in tables:
        scans = table["seq_scan"] + table["idx_scan"]
        if table["n_live_tup"] < min_rows or table["seq_scan"] == 0 or scans == 0:
            continue
        index_use = 100.0 * table["idx_scan"] / scans
        if index_use >= min_index_use_pct:
            continue
        name = qualified_name(table["schema_name"], table["table_name"])
        rows_per_scan = table["seq_tup_read"] / table["seq_scan"]
        findings.append(
            Finding(
                check="sequential_scans",
                severity=WARNING,
                subject=name,
                title=f"{name} is mostly read by sequential scans",
                evidence={
                    "seq_scan": table["seq_scan"],
                    "idx_scan": table["idx_scan"],
                    "index_use_pct": round(index_use, 1),
                    "live_rows": table["n_live_tup"],
                    "rows_read_per_seq_scan": round(rows_per_scan),
                },
                impact=(
                    f"Each sequential scan reads about {round(rows_per_scan):,} "
                    f"rows; only {index_use:.1f} % of scans use an index."
                ),
                recommendation=(
                    "Find the queries that scan it (slow queries below) and "
                    "index their WHERE columns; see the index suggestions."
                ),
                weight=table["seq_tup_read"],
            )
        )
    return findings


def settings_findings(current):
    """Report settings that differ from the seed's recommendations."""
    findings = []
    for name, (recommended, why) in SEED_SETTINGS.items():
        row = current.get(name)
        if row is None or _same_setting(row["setting"], recommended):
            continue
        severity = WARNING if name == "track_io_timing" else INFO
        findings.append(
            Finding(
                check="setting",
                severity=severity,
                subject=name,
                title=f"{name} is {row['value']}, the seed recommends {recommended}",
                evidence={"current": row["value"], "recommended": recommended},
                impact=f"The recommended value {why}.",
                recommendation=f"Set {name} = {recommended} and reload.",
                fix_sql=(
                    f"ALTER SYSTEM SET {name} = '{recommended}'; "
                    "SELECT pg_reload_conf();"
                ),
            )
        )
    return findings


def _same_setting(current, recommended):
    try:
        return float(current) == float(recommended)
    except ValueError:
        return current == recommended
