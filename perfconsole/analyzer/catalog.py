"""Read what the analyzer needs from PostgreSQL's catalog and statistics.

Every query goes through perfconsole.core.db.fetch_dicts: tagged, read-only,
with a statement and lock timeout, on the monitored database the report is
about (health.registry.checking).
"""

from __future__ import annotations

from perfconsole.core import db
from perfconsole.health.registry import checked_alias


def fetch_dicts(sql, params=None):
    """Run one query on the monitored database being analyzed."""
    return db.fetch_dicts(sql, params, using=checked_alias())


def cache_hits():
    """Return the cache hits (core.db.cache_hits) of the database being analyzed."""
    return db.cache_hits(checked_alias())


# The key columns of every plain index, to tell whether a suggestion is new.
INDEX_INVENTORY_SQL = """
SELECT n.nspname AS schema, t.relname AS table_name, c.relname AS index_name,
       i.indrelid::bigint AS table_oid, am.amname AS method,
       i.indisvalid AS is_valid, i.indpred IS NOT NULL AS is_partial,
       ARRAY(
           SELECT a.attname::text
           FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
           WHERE k.position <= i.indnkeyatts
           ORDER BY k.position
       ) AS key_columns
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = c.relam
WHERE i.indexprs IS NULL
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp)'
ORDER BY n.nspname, t.relname, c.relname
"""

TABLE_SQL = """
SELECT c.oid::bigint AS table_oid, n.nspname AS schema, c.relname AS table_name,
       c.reltuples::bigint AS estimated_rows, pg_relation_size(c.oid) AS bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass(%s) AND c.relkind IN ('r', 'p', 'm')
"""

# Tables (not views) the console's role owns: no one else can attach an
# index, a policy or a child table to them.
OWN_TABLES_SQL = """
SELECT t.name, n.nspname AS schema, c.relname AS table_name
FROM unnest(%s::text[]) AS t(name)
JOIN pg_class c ON c.oid = to_regclass(t.name)
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm')
  AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
"""

COLUMN_STATS_SQL = """
SELECT attname::text AS column_name, null_frac, n_distinct
FROM pg_stats
WHERE schemaname = %s AND tablename = %s AND attname = ANY(%s)
"""


def index_inventory():
    """Return every index without expressions, with its key columns."""
    return fetch_dicts(INDEX_INVENTORY_SQL)


def cache_hit():
    """Return (table ratio, index ratio, blocks requested) of user tables.

    A ratio is None while no block of its kind has been requested.
    """
    hits = cache_hits()
    tables, indexes = hits["tables"], hits["indexes"]
    blocks = tables.hit + tables.read + indexes.hit + indexes.read
    return tables.ratio, indexes.ratio, blocks


def window_cache_hit(window):
    """Return the database's CacheHits over a window of the statistics history.

    The history keeps the database's block counters, not each table's: the
    rate over a window is the whole database's.
    """
    from perfconsole.history.recent import database_hits

    return database_hits(window)


def table(name):
    """Return a table's oid, schema, name and size by (qualified) name, or None."""
    rows = fetch_dicts(TABLE_SQL, [name])
    return rows[0] if rows else None


def own_tables(names):
    """Return {name: (schema, table)} of the names that are the console's tables."""
    rows = fetch_dicts(OWN_TABLES_SQL, [list(names)])
    return {row["name"]: (row["schema"], row["table_name"]) for row in rows}


def column_stats(schema, table_name, columns):
    """Return {column: {"null_frac", "n_distinct"}} from pg_stats."""
    rows = fetch_dicts(COLUMN_STATS_SQL, [schema, table_name, list(columns)])
    return {row["column_name"]: row for row in rows}


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
