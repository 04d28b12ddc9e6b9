"""Read what the analyzer needs from PostgreSQL's catalog and statistics.

Every query goes through perfconsole.core.db.fetch_dicts: tagged, read-only,
with a statement and lock timeout.
"""

from __future__ import annotations

from perfconsole.core.db import fetch_dicts as _fetch_dicts
from perfconsole.monitoring.reading import tag_sql

INDEX_INVENTORY_SQL = """
SELECT n.nspname AS schema, t.relname AS table_name, c.relname AS index_name,
       i.indexrelid::bigint AS index_oid, i.indrelid::bigint AS table_oid,
       am.amname AS method, i.indisunique AS is_unique,
       i.indisprimary AS is_primary, i.indisvalid AS is_valid,
       i.indisexclusion AS is_exclusion, i.indisreplident AS is_replident,
       i.indexprs IS NOT NULL AS has_expressions,
       i.indpred IS NOT NULL AS is_partial,
       i.indclass::text AS opclasses, i.indoption::text AS options,
       ARRAY(
           SELECT a.attname::text
           FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
           WHERE k.position <= i.indnkeyatts
           ORDER BY k.position
       ) AS key_columns,
       ARRAY(
           SELECT a.attname::text
           FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
           WHERE k.position > i.indnkeyatts
           ORDER BY k.position
       ) AS include_columns,
       pg_relation_size(i.indexrelid) AS bytes,
       coalesce(s.idx_scan, 0) AS idx_scan,
       EXISTS (
           SELECT 1 FROM pg_stat_progress_create_index p
           WHERE p.index_relid = i.indexrelid
       ) AS being_built,
       pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = c.relam
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%'
  AND n.nspname NOT LIKE 'pg\\_temp%%'
ORDER BY n.nspname, t.relname, c.relname
"""

CACHE_HIT_SQL = """
SELECT sum(heap_blks_hit) + sum(coalesce(idx_blks_hit, 0)) AS hits,
       sum(heap_blks_read) + sum(coalesce(idx_blks_read, 0)) AS reads
FROM pg_statio_user_tables
"""

STATS_RESET_SQL = """
SELECT pg_stat_get_db_stat_reset_time(oid) AS stats_reset
FROM pg_database WHERE datname = current_database()
"""

TABLE_SQL = """
SELECT c.oid::bigint AS table_oid, n.nspname AS schema, c.relname AS table_name,
       c.reltuples::bigint AS estimated_rows, pg_relation_size(c.oid) AS bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass(%s) AND c.relkind IN ('r', 'p', 'm')
"""

COLUMN_STATS_SQL = """
SELECT attname::text AS column_name, null_frac, n_distinct
FROM pg_stats
WHERE schemaname = %s AND tablename = %s AND attname = ANY(%s)
"""

SETTINGS_SQL = """
SELECT name, setting, unit, current_setting(name) AS value, source
FROM pg_settings WHERE name = ANY(%s)
"""


def fetch_dicts(sql, params=None):
    """Run a query with fetch_dicts, tagged inside the statement.

    fetch_dicts puts the tag in front, which PostgreSQL 18's
    pg_stat_statements drops; tag_sql puts it after the first keyword too.
    """
    return _fetch_dicts(tag_sql(sql), params)


def index_inventory():
    """Return every index of the user's schemas with its columns and usage."""
    return fetch_dicts(INDEX_INVENTORY_SQL)


def cache_hit():
    """Return (hit ratio, blocks requested) of user tables and indexes.

    The ratio is None when no block has been requested yet.
    """
    row = fetch_dicts(CACHE_HIT_SQL)[0]
    hits, reads = int(row["hits"] or 0), int(row["reads"] or 0)
    if hits + reads == 0:
        return None, 0
    return hits / (hits + reads), hits + reads


def stats_reset_time():
    """Return when this database's statistics were last reset (or None)."""
    return fetch_dicts(STATS_RESET_SQL)[0]["stats_reset"]


def table(name):
    """Return a table's oid, schema, name and size by (qualified) name, or None."""
    rows = fetch_dicts(TABLE_SQL, [name])
    return rows[0] if rows else None


def column_stats(schema, table_name, columns):
    """Return {column: {"null_frac", "n_distinct"}} from pg_stats."""
    rows = fetch_dicts(COLUMN_STATS_SQL, [schema, table_name, list(columns)])
    return {row["column_name"]: row for row in rows}


def current_settings(names):
    """Return {name: row} from pg_settings for the given names."""
    return {row["name"]: row for row in fetch_dicts(SETTINGS_SQL, [list(names)])}


def quote_ident(name):
    """Quote an identifier only when PostgreSQL needs it, like quote_ident()."""
    from pglast.keywords import RESERVED_KEYWORDS

    if (
        name
        and (name[0].isalpha() or name[0] == "_")
        and name.isascii()
        and all(ch.islower() or ch.isdigit() or ch in "_$" for ch in name)
        and name not in RESERVED_KEYWORDS
    ):
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified_name(schema, name):
    """Return schema.name, each part quoted only when needed."""
    return f"{quote_ident(schema)}.{quote_ident(name)}"
