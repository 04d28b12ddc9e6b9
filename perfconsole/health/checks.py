"""Health checks over PostgreSQL's statistics, one plain function per check.

Each check is declared once with `health_check` (key, title, what the problem
costs and what to do, the fields of its rows and which one weighs a finding)
and registered, in the order of this module, when `HealthConfig.ready()`
imports it. Calling a check returns a CheckResult: a status (ok, warning or
critical), a sentence, the rows behind it (each with a `subject` for
per-object findings) and the SQL that fixes it. Checks take no request;
thresholds come from `perfconsole.health.thresholds`. Every query goes
through `perfconsole.core.db.fetch_dicts` (tagged, read-only, with timeouts);
database objects are those of the current database.
"""

from django.conf import settings
from django.utils import timezone

from perfconsole.core import db, formatting
from perfconsole.core.db import CacheHits, cache_hits
from perfconsole.health import activity
from perfconsole.health.registry import (
    CRITICAL,
    OK,
    WARNING,
    Outcome,
    checked_alias,
    checked_database,
    health_check,
)
from perfconsole.health.thresholds import thresholds
from perfconsole.history import recent
from perfconsole.replication.fleet import console_row, standby_index_scans


def fetch_dicts(sql, params=None):
    """Run one check's query on the monitored database being checked."""
    return db.fetch_dicts(sql, params, using=checked_alias())


# The cache hit rate is judged over the last day of the statistics history.
CACHE_WINDOW_MINUTES = 24 * 60
SHARED_BUFFERS_FIX = [
    "-- Raise shared_buffers (see the settings review; needs a restart):",
    "ALTER SYSTEM SET shared_buffers = '<a quarter of the RAM>';",
]
# Schemas that belong to PostgreSQL itself.
USER_SCHEMAS = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND n.nspname !~ '^pg_(toast|temp)'"
)
# The row field of a listed object that needs no action, and why (unused
# indexes that serve a foreign key, a constraint or a replica).
KEEP = "keep_because"
REPLICA_COUNTS = (
    "may be scanned on the replica (REPLICA_DATABASE_URL): the scans counted "
    "here are this server's only; check pg_stat_user_indexes there first"
)
# The largest value a transaction or multixact ID age can reach.
WRAPAROUND_LIMIT = 2_146_483_648
# The columns of every session row (see activity.SESSION_COLUMNS).
SESSION_FIELDS = (
    "pid",
    "user_name",
    "application_name",
    "client",
    "backend_type",
    "state",
    "duration_sec",
    "xact_sec",
    "wait_event_type",
    "wait_event",
    "query",
)


def _plural(count, word, plural=None):
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _found(rows, fix_sql, *, ok, problem, status=WARNING):
    """Build an outcome: ok when no rows, else `status` with a problem sentence."""
    if not rows:
        return Outcome(OK, ok)
    return Outcome(status, problem, rows, fix_sql)


def _on_delete(constraint):
    """Return SQL naming a foreign key's ON DELETE action (a pg_constraint alias)."""
    return (
        f"CASE {constraint}.confdeltype WHEN 'c' THEN 'cascade'"
        " WHEN 'n' THEN 'set null' WHEN 'd' THEN 'set default'"
        " WHEN 'r' THEN 'restrict' ELSE 'no action' END"
    )


def _leads_with_key(index, constraint):
    """Return SQL true when an index's leading key columns are a constraint's.

    In any order: a foreign key's lookups use such an index. index is a
    pg_index alias, constraint a pg_constraint one.
    """
    lead = f"({index}.indkey::int2[])[0:cardinality({constraint}.conkey) - 1]"
    return (
        f"{index}.indnkeyatts >= cardinality({constraint}.conkey)"
        f" AND {lead} @> {constraint}.conkey AND {lead} <@ {constraint}.conkey"
    )


# -- cache ------------------------------------------------------------------


@health_check(
    key="cache_hit_rate",
    title="Cache hit rate",
    impact="Blocks missing from shared buffers come from the OS cache "
    "or disk, many times slower.",
    recommendation="Raise shared_buffers, or find the queries that read most "
    "from disk (slow queries below).",
    fields=("subject", "heap_blks_read", "heap_blks_hit", "hit_rate"),
    database_wide=True,
)
def check_cache_hit_rate():
    """Compare table and index cache hit rates with the thresholds.

    With statistics history over the last CACHE_WINDOW_MINUTES, the
    database's rate in that window is judged instead: lifetime counters keep
    the cold reads of a load or a benchmark long past.
    """
    limits = thresholds()
    window = recent.covering(
        CACHE_WINDOW_MINUTES, timezone.now(), "database", checked_database()
    )
    if window is not None:
        return _window_cache_hit_rate(window, limits)
    hits = cache_hits(checked_alias())
    rates = {
        "table_hit_rate": hits["tables"].pct,
        "index_hit_rate": hits["indexes"].pct,
    }
    known = [r for r in rates.values() if r is not None]
    if not known:
        return Outcome(OK, "No reads recorded yet.")
    status = _hit_rate_status(float(min(known)), limits)
    table_rate, index_rate = (
        "–" if rate is None else rate
        for rate in (rates["table_hit_rate"], rates["index_hit_rate"])
    )
    summary = (
        f"Tables {table_rate} %, indexes {index_rate} % of blocks found in shared "
        f"buffers (warning below {limits['cache_hit_rate_warning']} %)."
    )
    return _cache_outcome(status, summary)


def _hit_rate_status(pct, limits):
    """Return the status of a cache hit rate in percent."""
    if pct < limits["cache_hit_rate_critical"]:
        return CRITICAL
    if pct < limits["cache_hit_rate_warning"]:
        return WARNING
    return OK


def _cache_outcome(status, summary):
    """Return the outcome; a low rate lists the tables that read most from disk."""
    if status == OK:
        return Outcome(OK, summary)
    return Outcome(status, summary, _tables_reading_most(), list(SHARED_BUFFERS_FIX))


def _window_cache_hit_rate(window, limits):
    """Judge the database's blocks hit and read in a window of the history."""
    hits = recent.database_hits(window)
    if hits.pct is None:
        return Outcome(OK, f"No block read {window.words}.")
    status = _hit_rate_status(hits.pct, limits)
    summary = (
        f"Database {hits.pct} % of blocks found in shared buffers {window.words} "
        f"({hits.hit + hits.read:,} requests, statistics history; warning below "
        f"{limits['cache_hit_rate_warning']} %)."
    )
    # The history keeps no per-table block counts: the tables that read most
    # from disk are listed from their lifetime counters.
    return _cache_outcome(status, summary)


def _tables_reading_most():
    """Return the ten tables that read most blocks from outside shared buffers."""
    rows = fetch_dicts(
        """SELECT format('%%s.%%s', schemaname, relname) AS subject,
                  heap_blks_read, heap_blks_hit
             FROM pg_statio_user_tables
            WHERE heap_blks_read > 0
            ORDER BY heap_blks_read DESC
            LIMIT 10"""
    )
    for row in rows:
        row["hit_rate"] = CacheHits(row["heap_blks_hit"], row["heap_blks_read"]).pct
    return rows


# -- indexes ----------------------------------------------------------------


@health_check(
    key="missing_indexes",
    title="Missing indexes",
    impact="Every sequential scan reads the whole table, so its "
    "queries slow down as it grows.",
    recommendation="Index the columns its queries filter on; see the index "
    "suggestions.",
    fields=(
        "subject",
        "live_rows",
        "seq_scan",
        "idx_scan",
        "seq_tup_read",
        "seq_scan_pct",
    ),
    weight="seq_tup_read",
)
def check_missing_indexes():
    """Find large tables read mostly by sequential scans."""
    limits = thresholds()
    rows = fetch_dicts(
        """SELECT format('%%s.%%s', schemaname, relname) AS subject,
                  format('%%I.%%I', schemaname, relname) AS qualified,
                  n_live_tup AS live_rows, seq_scan,
                  coalesce(idx_scan, 0) AS idx_scan, seq_tup_read,
                  round(100.0 * seq_scan / (seq_scan + coalesce(idx_scan, 0)), 1)
                    AS seq_scan_pct
             FROM pg_stat_user_tables
            WHERE n_live_tup >= %s AND seq_scan > 0
              AND 100.0 * seq_scan / (seq_scan + coalesce(idx_scan, 0)) > %s
            ORDER BY seq_tup_read DESC
            LIMIT 50""",
        [limits["missing_index_min_rows"], limits["seq_scan_ratio_pct"]],
    )
    fix = [
        f"-- {row['subject']}: find the filtered columns in its slow queries, then\n"
        f"CREATE INDEX CONCURRENTLY ON {row.pop('qualified')} (<column>);"
        for row in rows
    ]
    return _found(
        rows,
        fix,
        ok=f"No table of {limits['missing_index_min_rows']:,} rows or more is read "
        f"by sequential scans more than {limits['seq_scan_ratio_pct']} % of the time.",
        problem=f"{_plural(len(rows), 'large table')} read by sequential scans more "
        f"than {limits['seq_scan_ratio_pct']} % of the time.",
    )


def stats_reset_time():
    """Return when this database's statistics were last reset (None: never)."""
    return fetch_dicts(
        "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()"
    )[0]["stats_reset"]


@health_check(
    key="unused_indexes",
    title="Unused indexes",
    impact="Kept up to date on every write and held in cache without "
    "serving a single read.",
    recommendation="Check replicas (each keeps its own scan counts) and rare "
    "jobs, then drop it.",
    fields=("subject", "table_name", "idx_scan", "size_bytes", "size", KEEP),
    weight="size_bytes",
)
def check_unused_indexes():
    """Find indexes without scans since the last statistics reset.

    An unused index that backs a constraint (primary key, unique, exclusion),
    is the table's replica identity or is the one index left for a foreign
    key's lookups (no other index leading with its columns stays; of several
    unused ones, the smallest) is listed with the reason to keep it
    (`keep_because`) and no DROP: dropping it would break the constraint or
    make every delete of a referenced row scan the table. With a replica
    configured
    (REPLICA_DATABASE_URL) no index is recommended for dropping: the scans
    counted here are this server's only.
    """
    limits = thresholds()
    rows = fetch_dicts(
        f"""SELECT * FROM (
            SELECT format('%%s.%%s', s.schemaname, s.indexrelname) AS subject,
                   format('%%I.%%I', s.schemaname, s.indexrelname) AS qualified,
                   format('%%s.%%s', s.schemaname, s.relname) AS table_name,
                   s.idx_scan, pg_relation_size(s.indexrelid) AS size_bytes,
                   pg_size_pretty(pg_relation_size(s.indexrelid)) AS size,
                   CASE
                     WHEN backing.name IS NOT NULL
                       THEN format('backs the %%s constraint %%s',
                                   backing.kind, backing.name)
                     WHEN i.indisunique THEN 'enforces uniqueness'
                     WHEN i.indisreplident
                       THEN 'is the table''s replica identity (logical replication)'
                     WHEN serves.names IS NOT NULL
                       THEN format('serves the foreign key %%s: without it, '
                                   'deleting or changing a referenced row scans '
                                   '%%s', serves.names, s.relname)
                     ELSE ''
                   END AS keep_because
              FROM pg_stat_user_indexes s
              JOIN pg_index i ON i.indexrelid = s.indexrelid
              JOIN pg_class c ON c.oid = s.indexrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN LATERAL (
                   SELECT format('%%s.%%s', n.nspname, con.conname) AS name,
                          CASE con.contype WHEN 'p' THEN 'primary key'
                               WHEN 'u' THEN 'unique' ELSE 'exclusion' END AS kind
                     FROM pg_constraint con
                    WHERE con.conindid = s.indexrelid
                      AND con.conrelid = i.indrelid
                      AND con.contype IN ('p', 'u', 'x')
                    ORDER BY con.conname
                    LIMIT 1) AS backing ON true
              -- The foreign keys whose lookups this index serves: it leads
              -- with their columns (in any order, as the foreign-key check
              -- counts it) and no other index that stays does.
              LEFT JOIN LATERAL (
                   SELECT string_agg(format('%%s.%%s (on delete %%s)',
                                            n.nspname, fk.conname,
                                            {_on_delete("fk")}),
                                     ', ' ORDER BY fk.conname) AS names
                     FROM pg_constraint fk
                    WHERE fk.contype = 'f' AND fk.conrelid = i.indrelid
                      AND {_leads_with_key("i", "fk")}
                      AND NOT EXISTS (
                          SELECT 1
                            FROM pg_index j
                            JOIN pg_stat_user_indexes sj
                              ON sj.indexrelid = j.indexrelid
                           WHERE j.indrelid = fk.conrelid AND j.indisvalid
                             AND j.indexrelid <> i.indexrelid
                             AND {_leads_with_key("j", "fk")}
                             -- j stays (used, small or a constraint's), or
                             -- of two unused ones j is the smaller, kept.
                             AND (sj.idx_scan > %s
                                  OR pg_relation_size(j.indexrelid) < %s
                                  OR j.indisunique OR j.indisreplident
                                  OR (pg_relation_size(j.indexrelid), j.indexrelid)
                                     < (pg_relation_size(i.indexrelid),
                                        i.indexrelid)))
                   ) AS serves ON true
             WHERE {USER_SCHEMAS}
               AND s.idx_scan <= %s AND i.indisvalid
               AND pg_relation_size(s.indexrelid) >= %s
            ) unused
             -- What may be dropped first, then what is kept and why.
             ORDER BY keep_because <> '', size_bytes DESC
             LIMIT 100""",
        [limits["unused_index_max_scans"], limits["unused_index_min_bytes"]] * 2,
    )
    rows, servers = _with_standby_scans(rows, limits["unused_index_max_scans"])
    reset = stats_reset_time()
    since = (
        f"since statistics were reset at {formatting.timestamp(reset)}"
        if reset
        else "since statistics began (never reset)"
    )
    if settings.REPLICA_DATABASE_URL:
        for row in rows:
            row[KEEP] = row[KEEP] or REPLICA_COUNTS
    fix = [
        f"-- keep {row['subject']}: it {row[KEEP]}"
        if row[KEEP]
        else f"DROP INDEX CONCURRENTLY {row['qualified']};"
        for row in rows
    ]
    for row in rows:
        del row["qualified"]
    floor = formatting.size(limits["unused_index_min_bytes"])
    return Outcome(
        WARNING if any(not row[KEEP] for row in rows) else OK,
        _unused_summary(rows, floor, since) + servers,
        rows,
        fix,
    )


def _with_standby_scans(rows, max_scans):
    """Add the scans of this database's standbys; drop the indexes they use.

    Each standby (a monitored database whose primary is this one) keeps its
    own counts: an index without scans here may serve every read there.
    Return the rows still unused and a sentence naming the servers whose
    scans were summed ("" without standbys). Behind a standby that could not
    be read an index may still serve reads, so none is recommended for
    dropping.
    """
    # The standbys of the database being checked (a target, or the console's).
    database = checked_database() or console_row()
    if database is None:
        return rows, ""
    scans = standby_index_scans(database, [row["subject"] for row in rows])
    if not scans.counted and not scans.not_counted:
        return rows, ""
    unused = []
    for row in rows:
        row["idx_scan"] += scans.of(row["subject"])
        if row["idx_scan"] <= max_scans:
            unused.append(row)
    unread = ", ".join(name for name, _reason in scans.not_counted)
    for row in unused:
        if unread and not row[KEEP]:
            row[KEEP] = f"may be scanned on the standby {unread}, which was not counted"
    return unused, f" {scans.servers(database.name)}."


def _unused_summary(rows, floor, since):
    """Say how many unused indexes may be dropped and how many are kept."""
    drop = sum(1 for row in rows if not row[KEEP])
    kept = len(rows) - drop
    if not rows:
        return f"Every index of {floor} or more has been scanned {since}."
    if drop:
        summary = (
            f"{_plural(drop, 'index', 'indexes')} of {floor} or more not scanned "
            f"{since}. Check replicas before dropping: they keep their own counts."
        )
    elif settings.REPLICA_DATABASE_URL:
        return (
            f"{_plural(kept, 'index', 'indexes')} of {floor} or more not scanned "
            f"{since} on this server; none is recommended for dropping: "
            "the replica (REPLICA_DATABASE_URL) keeps its own scan counts."
        )
    else:
        summary = f"No index of {floor} or more to drop."
    if kept:
        summary += (
            f" {_plural(kept, 'unused index', 'unused indexes')} kept: each "
            "serves a foreign key, a constraint or a replica (the reason is "
            "in its row)."
        )
    return summary


@health_check(
    key="duplicate_indexes",
    title="Duplicate indexes",
    impact="Every write updates both indexes, while the longer one "
    "serves the same queries.",
    recommendation="Drop it: the covering index serves its queries.",
    fields=(
        "subject",
        "covered_by",
        "table_name",
        "definition",
        "covering_definition",
        "size_bytes",
    ),
    weight="size_bytes",
)
def check_duplicate_indexes():
    """Find indexes whose columns are a leading prefix of another index."""
    rows = fetch_dicts(
        f"""WITH idx AS (
              SELECT i.indexrelid, i.indrelid, c.relam, i.indisunique,
                     i.indisprimary, n.nspname, c.relname,
                     (string_to_array(i.indkey::text, ' '))[1:i.indnkeyatts] AS keys,
                     string_to_array(i.indkey::text, ' ') AS all_columns,
                     (string_to_array(i.indkey::text, ' '))[i.indnkeyatts + 1:]
                       AS included,
                     string_to_array(i.indclass::text, ' ') AS opclasses,
                     string_to_array(i.indcollation::text, ' ') AS collations,
                     string_to_array(i.indoption::text, ' ') AS options,
                     coalesce(i.indexprs::text, '') AS expressions,
                     coalesce(i.indpred::text, '') AS predicate
                FROM pg_index i
                JOIN pg_class c ON c.oid = i.indexrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE {USER_SCHEMAS} AND i.indisvalid AND c.relkind = 'i'
            )
            SELECT DISTINCT ON (a.indexrelid)
                   format('%%s.%%s', a.nspname, a.relname) AS subject,
                   format('%%I.%%I', a.nspname, a.relname) AS qualified,
                   format('%%s.%%s', b.nspname, b.relname) AS covered_by,
                   a.indrelid::regclass::text AS table_name,
                   pg_get_indexdef(a.indexrelid) AS definition,
                   pg_get_indexdef(b.indexrelid) AS covering_definition,
                   pg_relation_size(a.indexrelid) AS size_bytes
              FROM idx a
              JOIN idx b
                ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
               AND b.relam = a.relam
               AND b.expressions = a.expressions AND b.predicate = a.predicate
               AND cardinality(b.keys) >= cardinality(a.keys)
               AND b.keys[1:cardinality(a.keys)] = a.keys
               AND b.opclasses[1:cardinality(a.keys)] = a.opclasses
               AND b.collations[1:cardinality(a.keys)] = a.collations
               AND b.options[1:cardinality(a.keys)] = a.options
               AND a.included <@ b.all_columns
             WHERE NOT (a.indisunique OR a.indisprimary)
               -- Of two identical plain indexes, only the newer is reported.
               AND NOT (b.keys = a.keys AND b.all_columns = a.all_columns
                        AND NOT (b.indisunique OR b.indisprimary)
                        AND b.indexrelid > a.indexrelid)
             ORDER BY a.indexrelid, cardinality(b.keys)"""
    )
    fix = [f"DROP INDEX CONCURRENTLY {row.pop('qualified')};" for row in rows]
    return _found(
        rows,
        fix,
        ok="No index is covered by another index on the same columns.",
        problem=f"{_plural(len(rows), 'index', 'indexes')} covered by another "
        "index whose leading columns are the same.",
    )


@health_check(
    key="unindexed_foreign_keys",
    title="Foreign keys without an index",
    impact="Deleting or re-keying a referenced row scans the "
    "whole table for rows that point at it, once per row, holding locks.",
    recommendation="Index the referencing columns (concurrently); a "
    "partial index WHERE column IS NOT NULL serves when most rows are NULL.",
    fields=(
        "subject",
        "table_name",
        "referenced_table",
        "columns",
        "on_delete",
        "table_rows",
        "size_bytes",
        "size",
    ),
    weight="size_bytes",
)
def check_unindexed_foreign_keys():
    """Find foreign keys of large tables that no index leads with.

    Deleting or re-keying a referenced row makes PostgreSQL look for the
    rows that point at it (to cascade, set NULL or refuse): without an index
    on the referencing columns that is a sequential scan of the referencing
    table, once per deleted row, under a lock.
    """
    limits = thresholds()
    rows = fetch_dicts(
        f"""SELECT format('%%s.%%s', n.nspname, con.conname) AS subject,
                   format('%%I.%%I', n.nspname, t.relname) AS qualified,
                   format('%%s.%%s', n.nspname, t.relname) AS table_name,
                   con.confrelid::regclass::text AS referenced_table,
                   cols.names AS columns,
                   {_on_delete("con")} AS on_delete,
                   greatest(t.reltuples, 0)::bigint AS table_rows,
                   pg_relation_size(t.oid) AS size_bytes,
                   pg_size_pretty(pg_relation_size(t.oid)) AS size
              FROM pg_constraint con
              JOIN pg_class t ON t.oid = con.conrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
             CROSS JOIN LATERAL (
                   SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.n)
                            AS names
                     FROM unnest(con.conkey) WITH ORDINALITY AS k (attnum, n)
                     JOIN pg_attribute a
                       ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                   ) AS cols
             WHERE con.contype = 'f' AND {USER_SCHEMAS}
               AND t.reltuples >= %s
               -- No valid index whose leading key columns are the foreign
               -- key's, in any order (a partial index WHERE col IS NOT NULL
               -- serves the lookups too).
               AND NOT EXISTS (
                   SELECT 1 FROM pg_index i
                    WHERE i.indrelid = con.conrelid AND i.indisvalid
                      AND {_leads_with_key("i", "con")})
             ORDER BY size_bytes DESC, subject
             LIMIT 100""",
        [limits["missing_index_min_rows"]],
    )
    fix = []
    for row in rows:
        qualified = row.pop("qualified")
        fix.append(
            f"-- {row['subject']} references {row['referenced_table']}"
            f" (on delete {row['on_delete']})\n"
            f"CREATE INDEX CONCURRENTLY ON {qualified} ({row['columns']});"
        )
    return _found(
        rows,
        fix,
        ok="Every foreign key of a table of "
        f"{limits['missing_index_min_rows']:,} rows or more has an index.",
        problem=f"{_plural(len(rows), 'foreign key')} of large tables without an "
        "index: deleting or changing a referenced row scans the whole table.",
    )


@health_check(
    key="invalid_indexes",
    title="Invalid indexes",
    impact="The planner never uses it, yet every write still updates it.",
    recommendation="Rebuild it, or drop it if it is a failed concurrent build.",
    fields=("subject", "table_name", "definition", "size_bytes"),
    weight="size_bytes",
)
def check_invalid_indexes():
    """Find INVALID indexes left by failed concurrent builds."""
    rows = fetch_dicts(
        f"""SELECT format('%%s.%%s', n.nspname, c.relname) AS subject,
                   format('%%I.%%I', n.nspname, c.relname) AS qualified,
                   i.indrelid::regclass::text AS table_name,
                   pg_get_indexdef(i.indexrelid) AS definition,
                   pg_relation_size(i.indexrelid) AS size_bytes
              FROM pg_index i
              JOIN pg_class c ON c.oid = i.indexrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT i.indisvalid AND c.relkind = 'i' AND {USER_SCHEMAS}
               -- A concurrent build in progress is invalid until it ends.
               AND i.indexrelid NOT IN (
                   SELECT index_relid FROM pg_stat_progress_create_index)
             ORDER BY 1"""
    )
    fix = [f"REINDEX INDEX CONCURRENTLY {row.pop('qualified')};" for row in rows]
    return _found(
        rows,
        fix,
        ok="No invalid index.",
        problem=f"{_plural(len(rows), 'invalid index', 'invalid indexes')}: never "
        "used for reads, still updated on every write. Rebuild them (or drop "
        "them if the build failed on duplicates).",
    )


# -- bloat and vacuum -------------------------------------------------------


def _column_stats(tables):
    """Return a CTE reading pg_stats once, as one jsonb object keyed by column.

    tables: SQL for the names of the tables whose columns are looked up.
    Joined to the view instead, the planner expects a few rows on each side
    and compares every column with every row of pg_stats in a nested loop
    (the index bloat estimate spent about 130 ms there at the `large` demo
    scale). Each column's value is [null_frac, avg_width]; null_frac goes
    through float8, which keeps the real exactly.
    """
    return f"""stats AS MATERIALIZED (
              SELECT coalesce(jsonb_object_agg(
                       format('%%I.%%I.%%I', schemaname, tablename, attname),
                       jsonb_build_array(null_frac::float8, avg_width)), '{{}}')
                       AS by_column
                FROM pg_stats
               WHERE NOT inherited AND tablename = ANY (ARRAY({tables}))
            )"""


def _stats_of(schema, table, column):
    """Return a lateral join giving a column's statistics from the stats CTE.

    Its columns: null_frac and avg_width (NULL without statistics) and
    missing (true without statistics).
    """
    return f"""CROSS JOIN LATERAL (
                   SELECT (stat ->> 0)::float8 AS null_frac,
                          (stat ->> 1)::int AS avg_width,
                          stat IS NULL AS missing
                     FROM (SELECT stats.by_column -> format('%%I.%%I.%%I',
                                  {schema}, {table}, {column})) AS found (stat)
                   ) AS s"""


# The expected size of a table: rows times the estimated tuple size (aligned
# header, null bitmap, average column widths, item pointer) per fillfactor
# page. Tables whose columns have no statistics are skipped, and so are those
# smaller than the size floor (the first parameter): they cannot waste that
# much. Then: the share and size floors.
TABLE_BLOAT_SQL = f"""
WITH tables AS (
  SELECT c.oid, n.nspname, c.relname
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'm') AND {USER_SCHEMAS}
     AND c.relpages > 0 AND c.reltuples >= 0
     AND c.relpages::bigint * current_setting('block_size')::int >= %s
), {_column_stats("SELECT relname FROM tables")}, cols AS (
  SELECT t.oid, count(*) AS natts,
         sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0))
           AS data_width,
         bool_or(coalesce(s.null_frac, 0) > 0) AS has_nulls,
         bool_or(s.missing) AS missing_stats
    FROM tables t
    JOIN pg_attribute a
      ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
   CROSS JOIN stats
   {_stats_of("t.nspname", "t.relname", "a.attname")}
   GROUP BY t.oid
), estimate AS (
  SELECT c.oid, n.nspname, c.relname, c.relpages,
         current_setting('block_size')::int AS bs,
         ceil(c.reltuples / greatest(floor(
           (current_setting('block_size')::int - 24)
           * coalesce(substring(array_to_string(c.reloptions, ',')
                      FROM 'fillfactor=([0-9]+)')::int, 100) / 100.0
           / (ceil((23 + CASE WHEN has_nulls THEN ceil(natts / 8.0)
                              ELSE 0 END) / 8.0) * 8
              + ceil(data_width / 8.0) * 8 + 4)), 1)) AS expected_pages
    FROM cols
    JOIN pg_class c USING (oid)
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE NOT missing_stats
)
SELECT format('%%s.%%s', nspname, relname) AS subject,
       format('%%I.%%I', nspname, relname) AS qualified,
       relpages::bigint * bs AS size_bytes,
       (relpages - expected_pages)::bigint * bs AS bloat_bytes,
       pg_size_pretty((relpages - expected_pages)::bigint * bs) AS bloat,
       round((100.0 * (relpages - expected_pages) / relpages)::numeric, 1)
         AS bloat_pct
  FROM estimate
 WHERE 100.0 * (relpages - expected_pages) / relpages >= %s
   AND (relpages - expected_pages) * bs >= %s
 ORDER BY bloat_bytes DESC, subject
 LIMIT 50
"""

# The expected size of a btree index, from its columns' statistics. Indexes
# whose pages past the metapage are fewer than the size floor (the first
# parameter) cannot waste that much and are skipped. Then: the share and size
# floors.
INDEX_BLOAT_SQL = f"""
WITH idx AS (
  SELECT i.indexrelid, i.indrelid, ci.relpages, ci.reltuples,
         n.nspname, ci.relname, ct.relname AS table_name,
         coalesce(substring(array_to_string(ci.reloptions, ',')
                  FROM 'fillfactor=([0-9]+)')::int, 90) AS fillfactor,
         string_to_array(i.indkey::text, ' ')::int[] AS columns
    FROM pg_index i
    JOIN pg_class ci ON ci.oid = i.indexrelid
    JOIN pg_class ct ON ct.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = ci.relnamespace
    JOIN pg_am am ON am.oid = ci.relam
   WHERE am.amname = 'btree' AND ci.relkind = 'i' AND {USER_SCHEMAS}
     AND i.indisvalid AND i.indexprs IS NULL
     AND ci.relpages > 1 AND ci.reltuples >= 0
     AND (ci.relpages - 1)::bigint * current_setting('block_size')::int >= %s
), {_column_stats("SELECT table_name FROM idx")}, widths AS (
  SELECT idx.indexrelid,
         sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0))
           AS data_width,
         bool_or(coalesce(s.null_frac, 0) > 0) AS has_nulls,
         bool_or(s.missing) AS missing_stats
    FROM idx
   CROSS JOIN LATERAL unnest(idx.columns) AS k(attnum)
    JOIN pg_attribute a
      ON a.attrelid = idx.indrelid AND a.attnum = k.attnum
   CROSS JOIN stats
   {_stats_of("idx.nspname", "idx.table_name", "a.attname")}
   GROUP BY idx.indexrelid
), estimate AS (
  -- Index tuple: 8-byte header (+ null bitmap), data, aligned to 8,
  -- plus a 4-byte item pointer; pages keep 24 + 16 bytes for the
  -- header and btree special space; one metapage.
  SELECT idx.*, current_setting('block_size')::int AS bs,
         1 + ceil(idx.reltuples / greatest(floor(
           (current_setting('block_size')::int - 40)
           * idx.fillfactor / 100.0
           / (ceil((8 + CASE WHEN w.has_nulls THEN 4 ELSE 0 END
                   + w.data_width) / 8.0) * 8 + 4)), 1))
           AS expected_pages
    FROM idx JOIN widths w USING (indexrelid)
   WHERE NOT w.missing_stats
)
SELECT format('%%s.%%s', nspname, relname) AS subject,
       format('%%I.%%I', nspname, relname) AS qualified,
       format('%%s.%%s', nspname, table_name) AS table_name,
       relpages::bigint * bs AS size_bytes,
       (relpages - expected_pages)::bigint * bs AS bloat_bytes,
       pg_size_pretty((relpages - expected_pages)::bigint * bs) AS bloat,
       round((100.0 * (relpages - expected_pages) / relpages)::numeric, 1)
         AS bloat_pct
  FROM estimate
 WHERE 100.0 * (relpages - expected_pages) / relpages >= %s
   AND (relpages - expected_pages) * bs >= %s
 ORDER BY bloat_bytes DESC, subject
 LIMIT 50
"""


@health_check(
    key="table_bloat",
    title="Table bloat",
    impact="Dead space makes scans read more pages than the data needs.",
    recommendation="Rewrite the table in a quiet hour (VACUUM FULL locks it) or "
    "with pg_repack.",
    fields=("subject", "size_bytes", "bloat_bytes", "bloat", "bloat_pct"),
    weight="bloat_bytes",
)
def check_table_bloat():
    """Estimate wasted space in tables from their statistics."""
    limits = thresholds()
    rows = fetch_dicts(
        TABLE_BLOAT_SQL,
        [
            limits["table_bloat_min_bytes"],
            limits["table_bloat_pct"],
            limits["table_bloat_min_bytes"],
        ],
    )
    fix = [
        f"VACUUM (ANALYZE) {row['qualified']};  -- makes the space reusable\n"
        f"-- returns it to the OS, under an ACCESS EXCLUSIVE lock:\n"
        f"-- VACUUM (FULL, ANALYZE) {row.pop('qualified')};"
        for row in rows
    ]
    return _found(
        rows,
        fix,
        ok="No table is estimated to waste "
        f"{limits['table_bloat_pct']} % and "
        f"{formatting.size(limits['table_bloat_min_bytes'])} or more.",
        problem=f"{_plural(len(rows), 'table')} estimated to waste "
        f"{limits['table_bloat_pct']} % or more of their pages (an estimate "
        "from the planner statistics).",
    )


@health_check(
    key="index_bloat",
    title="Index bloat",
    impact="A bloated index needs more pages in cache and more reads per lookup.",
    recommendation="Rebuild it concurrently.",
    fields=("subject", "table_name", "size_bytes", "bloat_bytes", "bloat", "bloat_pct"),
    weight="bloat_bytes",
)
def check_index_bloat():
    """Estimate wasted space in btree indexes from their statistics."""
    limits = thresholds()
    rows = fetch_dicts(
        INDEX_BLOAT_SQL,
        [
            limits["index_bloat_min_bytes"],
            limits["index_bloat_pct"],
            limits["index_bloat_min_bytes"],
        ],
    )
    fix = [f"REINDEX INDEX CONCURRENTLY {row.pop('qualified')};" for row in rows]
    return _found(
        rows,
        fix,
        ok="No btree index is estimated to waste "
        f"{formatting.size(limits['index_bloat_min_bytes'])} or more.",
        problem=f"{_plural(len(rows), 'btree index', 'btree indexes')} estimated "
        f"to waste {limits['index_bloat_pct']} % or more of their pages.",
    )


@health_check(
    key="dead_tuples",
    title="Dead tuples",
    impact="Dead rows slow down scans and index visibility checks until vacuumed.",
    recommendation="Vacuum it, and let autovacuum visit it more often.",
    fields=(
        "subject",
        "live_rows",
        "dead_rows",
        "dead_pct",
        "autovacuum_trigger",
        "last_vacuum",
        "reason",
    ),
    weight="dead_rows",
)
def check_dead_tuples():
    """Find tables whose dead rows matter: a large share, or autovacuum behind.

    Above the absolute floor (the seed's alert level), a table is reported
    when its dead rows are a large share of its rows, or when they passed the
    point where autovacuum should have started (autovacuum_vacuum_threshold
    + autovacuum_vacuum_scale_factor x rows, the table's own settings first)
    and autovacuum is off for it or has not vacuumed it for a while. 8 000
    dead rows in a 5-million-row table that autovacuum keeps up with are not.
    """
    limits = thresholds()
    rows = fetch_dicts(
        DEAD_TUPLES_SQL,
        [
            limits["dead_tuples"],
            limits["dead_tuples_pct"],
            limits["autovacuum_lag_minutes"],
        ],
    )
    problems, fix = [], []
    for row in rows:
        qualified = row.pop("qualified")
        reasons = _dead_tuple_reasons(row, limits)
        if reasons:
            row["reason"] = "; ".join(reasons)
            problems.append(row)
            fix.append(f"VACUUM (ANALYZE) {qualified};")
    floor = f"{limits['dead_tuples']:,}"
    fine = len(rows) - len(problems)
    keeping_up = (
        f"{_plural(fine, 'table')} with more than {floor} dead tuples "
        f"{'is' if fine == 1 else 'are'} fine: under {limits['dead_tuples_pct']} % "
        "of their rows, and autovacuum keeps up."
    )
    if not problems:
        summary = (
            keeping_up if fine else f"No table holds more than {floor} dead tuples."
        )
        return Outcome(OK, summary)
    summary = (
        f"{_plural(len(problems), 'table')} with more than {floor} dead tuples "
        f"that are {limits['dead_tuples_pct']} % or more of their rows, or that "
        "autovacuum is not keeping up with."
    )
    if fine:
        summary += f" ({keeping_up})"
    return Outcome(WARNING, summary, problems, fix)


# Tables above the dead-row floor, with autovacuum's trigger for each: its
# threshold plus scale factor x reltuples (as autovacuum computes it, capped by
# autovacuum_vacuum_max_threshold on PostgreSQL 18), the table's reloptions
# winning over the server's settings.
DEAD_TUPLES_SQL = """
WITH tables AS (
  SELECT s.relid, s.schemaname, s.relname, s.n_live_tup, s.n_dead_tup,
         greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
         greatest(c.reltuples, 0) AS reltuples,
         coalesce(
           (SELECT option_value::float8 FROM pg_options_to_table(c.reloptions)
             WHERE option_name = 'autovacuum_vacuum_threshold'),
           current_setting('autovacuum_vacuum_threshold')::float8) AS base,
         coalesce(
           (SELECT option_value::float8 FROM pg_options_to_table(c.reloptions)
             WHERE option_name = 'autovacuum_vacuum_scale_factor'),
           current_setting('autovacuum_vacuum_scale_factor')::float8) AS scale,
         coalesce(
           (SELECT option_value::float8 FROM pg_options_to_table(c.reloptions)
             WHERE option_name = 'autovacuum_vacuum_max_threshold'),
           current_setting('autovacuum_vacuum_max_threshold', true)::float8,
           -1) AS cap,
         current_setting('autovacuum')::bool
           AND coalesce(
             (SELECT option_value::bool FROM pg_options_to_table(c.reloptions)
               WHERE option_name = 'autovacuum_enabled'), true) AS autovacuum_on,
         EXISTS (SELECT 1 FROM pg_stat_progress_vacuum p WHERE p.relid = s.relid)
           AS vacuuming
    FROM pg_stat_user_tables s
    JOIN pg_class c ON c.oid = s.relid
   WHERE s.n_dead_tup > %s
), judged AS (
  SELECT *,
         round((CASE WHEN cap >= 0 THEN least(base + scale * reltuples, cap)
                     ELSE base + scale * reltuples END)::numeric)::bigint
           AS autovacuum_trigger,
         round(100.0 * n_dead_tup / nullif(n_live_tup + n_dead_tup, 0), 1)
           AS dead_pct
    FROM tables
)
SELECT format('%%s.%%s', schemaname, relname) AS subject,
       format('%%I.%%I', schemaname, relname) AS qualified,
       n_live_tup AS live_rows, n_dead_tup AS dead_rows, dead_pct,
       autovacuum_trigger, last_vacuum, autovacuum_on,
       dead_pct >= %s AS large_share,
       n_dead_tup > autovacuum_trigger AND NOT vacuuming
         AND (NOT autovacuum_on
              OR coalesce(last_vacuum < now() - make_interval(mins => %s), true))
         AS behind
  FROM judged
 ORDER BY n_dead_tup DESC
 LIMIT 100
"""


def _dead_tuple_reasons(row, limits):
    """Return why a table's dead rows need a vacuum (empty: they do not)."""
    large_share, behind = row.pop("large_share"), row.pop("behind")
    autovacuum_on = row.pop("autovacuum_on")
    reasons = []
    if large_share:
        reasons.append(f"{row['dead_pct']} % of its rows are dead")
    if behind:
        trigger = f"{row['autovacuum_trigger']:,}"
        if not autovacuum_on:
            reasons.append(
                f"past autovacuum's trigger ({trigger} dead rows) with "
                "autovacuum off for it"
            )
        else:
            reasons.append(
                f"past autovacuum's trigger ({trigger} dead rows), not vacuumed "
                f"in the last {limits['autovacuum_lag_minutes']} minutes"
            )
    return reasons


@health_check(
    key="vacuum_analyze",
    title="Vacuum and analyze recency",
    impact="Stale statistics mislead the planner; late vacuums let dead rows pile up.",
    recommendation="Vacuum and analyze it; check that autovacuum keeps up.",
    fields=(
        "subject",
        "live_rows",
        "last_vacuum",
        "last_analyze",
        "vacuum_due",
        "analyze_due",
    ),
)
def check_vacuum_analyze():
    """Find changed large tables not vacuumed or analyzed recently."""
    limits = thresholds()
    rows = fetch_dicts(
        """SELECT * FROM (
             SELECT format('%%s.%%s', schemaname, relname) AS subject,
                    format('%%I.%%I', schemaname, relname) AS qualified,
                    n_live_tup AS live_rows,
                    greatest(last_vacuum, last_autovacuum) AS last_vacuum,
                    greatest(last_analyze, last_autoanalyze) AS last_analyze,
                    n_dead_tup + n_ins_since_vacuum > 0
                      AND coalesce(greatest(last_vacuum, last_autovacuum)
                                   < now() - make_interval(hours => %s), true)
                      AS vacuum_due,
                    n_mod_since_analyze > 0
                      AND coalesce(greatest(last_analyze, last_autoanalyze)
                                   < now() - make_interval(hours => %s), true)
                      AS analyze_due
               FROM pg_stat_user_tables
              WHERE n_live_tup >= %s
           ) t
            WHERE vacuum_due OR analyze_due
            ORDER BY live_rows DESC
            LIMIT 50""",
        [
            limits["maintenance_max_age_hours"],
            limits["maintenance_max_age_hours"],
            limits["maintenance_min_rows"],
        ],
    )
    fix = []
    for row in rows:
        qualified = row.pop("qualified")
        fix.append(
            f"VACUUM (ANALYZE) {qualified};"
            if row["vacuum_due"]
            else f"ANALYZE {qualified};"
        )
    hours = limits["maintenance_max_age_hours"]
    return _found(
        rows,
        fix,
        ok=f"Every changed table of {limits['maintenance_min_rows']:,} rows or more "
        f"was vacuumed and analyzed in the last {hours} hours.",
        problem=f"{_plural(len(rows), 'changed table')} not vacuumed or analyzed "
        f"in the last {hours} hours.",
    )


@health_check(
    key="wraparound",
    title="Transaction ID and multixact wraparound",
    impact="At the limit PostgreSQL stops accepting writes to protect the data.",
    recommendation="Freeze it now with VACUUM (FREEZE).",
    fields=("subject", "xid_age", "xids_left", "mxid_age", "mxids_left"),
)
def check_wraparound():
    """Measure how close tables are to transaction ID and multixact wraparound."""
    limits = thresholds()
    rows = fetch_dicts(
        """SELECT * FROM (
             SELECT format('%%s.%%s', n.nspname, c.relname) AS subject,
                    format('%%I.%%I', n.nspname, c.relname) AS qualified,
                    greatest(age(c.relfrozenxid), age(t.relfrozenxid)) AS xid_age,
                    %s - greatest(age(c.relfrozenxid), age(t.relfrozenxid))
                      AS xids_left,
                    greatest(mxid_age(c.relminmxid), mxid_age(t.relminmxid))
                      AS mxid_age,
                    %s - greatest(mxid_age(c.relminmxid), mxid_age(t.relminmxid))
                      AS mxids_left
               FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
              WHERE c.relkind IN ('r', 'm') AND n.nspname !~ '^pg_temp'
           ) t
            WHERE least(xids_left, mxids_left) < %s
            ORDER BY least(xids_left, mxids_left)
            LIMIT 50""",
        [WRAPAROUND_LIMIT, WRAPAROUND_LIMIT, limits["wraparound_warning_left"]],
    )
    fix = [f"VACUUM (FREEZE, VERBOSE) {row.pop('qualified')};" for row in rows]
    status = WARNING
    if any(
        min(row["xids_left"], row["mxids_left"]) < limits["wraparound_critical_left"]
        for row in rows
    ):
        status = CRITICAL
    return _found(
        rows,
        fix,
        ok=f"Every table has more than {limits['wraparound_warning_left']:,} "
        "transaction IDs and multixacts left before wraparound.",
        problem=f"{_plural(len(rows), 'table')} with fewer than "
        f"{limits['wraparound_warning_left']:,} transaction IDs or multixacts "
        "left before wraparound.",
        status=status,
    )


@health_check(
    key="sequences",
    title="Sequences near their maximum",
    impact="Inserts fail once the sequence reaches its type's maximum.",
    recommendation="Widen the sequence and its column to bigint.",
    fields=(
        "subject",
        "table_name",
        "column_name",
        "column_type",
        "last_value",
        "max_value",
        "used_pct",
    ),
)
def check_sequences():
    """Find sequences near the maximum of the column they feed."""
    limits = thresholds()
    rows = fetch_dicts(
        """SELECT * FROM (
             SELECT format('%%s.%%s', s.schemaname, s.sequencename) AS subject,
                    format('%%I.%%I', s.schemaname, s.sequencename) AS qualified,
                    t.oid::regclass::text AS table_name,
                    quote_ident(a.attname) AS column_name,
                    format_type(a.atttypid, a.atttypmod) AS column_type,
                    s.last_value,
                    least(s.max_value, CASE a.atttypid
                        WHEN 'int2'::regtype THEN 32767
                        WHEN 'int4'::regtype THEN 2147483647
                        ELSE s.max_value END) AS max_value
               FROM pg_sequences s
               JOIN pg_namespace sn ON sn.nspname = s.schemaname
               JOIN pg_class sc
                 ON sc.relnamespace = sn.oid AND sc.relname = s.sequencename
               LEFT JOIN pg_depend d
                 ON d.classid = 'pg_class'::regclass AND d.objid = sc.oid
                AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
               LEFT JOIN pg_class t ON t.oid = d.refobjid
               LEFT JOIN pg_attribute a
                 ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
              WHERE NOT s.cycle AND s.increment_by > 0
                AND s.last_value IS NOT NULL
           ) seq
            WHERE 100.0 * last_value / max_value >= %s
            ORDER BY last_value::numeric / max_value DESC
            LIMIT 50""",
        [limits["sequence_used_pct"]],
    )
    fix = []
    for row in rows:
        row["used_pct"] = round(100.0 * row["last_value"] / row["max_value"], 2)
        qualified = row.pop("qualified")
        if row["table_name"]:
            fix.append(
                f"ALTER TABLE {row['table_name']} ALTER COLUMN {row['column_name']} "
                "TYPE bigint;  -- rewrites the table under an ACCESS EXCLUSIVE lock"
            )
        fix.append(f"ALTER SEQUENCE {qualified} AS bigint;")
    return _found(
        rows,
        fix,
        ok=f"No sequence has used {limits['sequence_used_pct']} % of its column "
        "type's range.",
        problem=f"{_plural(len(rows), 'sequence')} past "
        f"{limits['sequence_used_pct']} % of the column type's maximum.",
        status=CRITICAL,
    )


# -- sessions ---------------------------------------------------------------


@health_check(
    key="connections",
    title="Connections",
    impact="Each connection costs memory; past max_connections new "
    "clients are refused.",
    recommendation="Put a pooler (PgBouncer) in front or lower the pool sizes.",
    fields=(
        "database",
        "user_name",
        "application",
        "client",
        "connections",
        "idle_in_transaction",
    ),
    database_wide=True,
)
def check_connections():
    """Compare client connections with max_connections and the thresholds."""
    limits = thresholds()
    totals = fetch_dicts(
        """SELECT current_setting('max_connections')::int AS max_connections,
                  count(*) AS total,
                  count(*) FILTER (WHERE state LIKE 'idle in transaction%%')
                    AS idle_in_transaction
             FROM pg_stat_activity
            WHERE backend_type = 'client backend'"""
    )[0]
    rows = fetch_dicts(
        """SELECT coalesce(datname, '') AS database,
                  coalesce(usename::text, '') AS user_name,
                  coalesce(application_name, '') AS application,
                  coalesce(host(client_addr), 'local socket') AS client,
                  count(*) AS connections,
                  count(*) FILTER (WHERE state LIKE 'idle in transaction%%')
                    AS idle_in_transaction
             FROM pg_stat_activity
            WHERE backend_type = 'client backend'
            GROUP BY 1, 2, 3, 4
            ORDER BY connections DESC, 1, 2, 3, 4
            LIMIT 50"""
    )
    total, maximum = totals["total"], totals["max_connections"]
    used_pct = round(100.0 * total / maximum, 1)
    if used_pct >= limits["connections_critical_pct"]:
        status = CRITICAL
    elif (
        used_pct >= limits["connections_warning_pct"]
        or total >= limits["total_connections"]
    ):
        status = WARNING
    else:
        status = OK
    summary = (
        f"{total} of max_connections {maximum} in use ({used_pct} %), "
        f"{totals['idle_in_transaction']} idle in transaction."
    )
    fix = []
    if status != OK:
        fix = ["-- Put a pooler (PgBouncer) in front, or lower the pool sizes."]
    return Outcome(status, summary, rows, fix)


@health_check(
    key="idle_in_transaction",
    title="Idle in transaction",
    impact="An open transaction holds its locks and keeps vacuum "
    "from removing dead rows.",
    recommendation="Find the application that holds it open; terminate "
    "it if it is stuck.",
    fields=(*SESSION_FIELDS, "idle_sec", "subject"),
)
def check_idle_in_transaction():
    """Find sessions of this database idle in a transaction for too long."""
    limits = thresholds()
    rows = activity.idle_in_transaction(
        limits["idle_in_transaction_sec"], using=checked_alias()
    )
    for row in rows:
        row["subject"] = f"pid {row['pid']}"
    fix = [f"SELECT pg_terminate_backend({row['pid']});" for row in rows]
    if rows:
        fix.append(
            "ALTER ROLE <role> SET idle_in_transaction_session_timeout = '5min';"
        )
    status = CRITICAL if len(rows) >= limits["idle_in_transaction_count"] else WARNING
    return _found(
        rows,
        fix,
        ok="No session is idle in a transaction for "
        f"{limits['idle_in_transaction_sec']} s or more.",
        problem=f"{_plural(len(rows), 'session')} idle in a transaction for "
        f"{limits['idle_in_transaction_sec']} s or more: they hold locks and "
        "stop vacuum from removing dead rows.",
        status=status,
    )


@health_check(
    key="long_running_queries",
    title="Long-running queries",
    impact="A long query holds locks and a snapshot, delaying "
    "vacuum and other sessions.",
    recommendation="Cancel it if it is stuck, and find out why it runs so long.",
    fields=(*SESSION_FIELDS, "subject"),
)
def check_long_running_queries():
    """Find queries of this database running longer than the threshold."""
    limits = thresholds()
    rows = activity.long_running(
        limits["long_running_query_sec"], using=checked_alias()
    )
    for row in rows:
        row["subject"] = f"pid {row['pid']}"
    fix = [f"SELECT pg_cancel_backend({row['pid']});" for row in rows]
    return _found(
        rows,
        fix,
        ok=f"No query has been running for {limits['long_running_query_sec']} s "
        "or more.",
        problem=f"{_plural(len(rows), 'query', 'queries')} running for "
        f"{limits['long_running_query_sec']} s or more.",
    )


@health_check(
    key="blocked_sessions",
    title="Blocked and blocking sessions",
    impact="Blocked sessions stall until the lock holder finishes.",
    recommendation="Cancel the blocking statement or finish its transaction.",
    fields=(
        "blocked_pid",
        "blocked_user",
        "waiting_sec",
        "wait_event_type",
        "wait_event",
        "waiting_for",
        "blocked_query",
        "blocking_pid",
        "blocking_user",
        "blocking_application",
        "blocking_state",
        "blocking_xact_sec",
        "blocking_query",
        "subject",
    ),
)
def check_blocked_sessions():
    """Find sessions of this database waiting for a lock another one holds."""
    limits = thresholds()
    rows = activity.blocking_pairs(checked_alias())
    for row in rows:
        row["subject"] = f"pid {row['blocked_pid']}"
    blocking = sorted({row["blocking_pid"] for row in rows})
    fix = [f"SELECT pg_cancel_backend({pid});" for pid in blocking]
    status = WARNING
    if any(row["waiting_sec"] >= limits["blocked_critical_sec"] for row in rows):
        status = CRITICAL
    blocked = len({row["blocked_pid"] for row in rows})
    return _found(
        rows,
        fix,
        ok="No session is waiting for a lock.",
        problem=f"{_plural(blocked, 'session')} waiting for locks held by "
        f"{_plural(len(blocking), 'other session')}.",
        status=status,
    )
