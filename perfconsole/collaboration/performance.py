"""The objects the performance migration promises, and how to verify them.

`verifyperf`, the `database` system check and the benchmarks' before/after
comparison read the lists here: the six indexes of the seed (TARGETS.md),
the foreign-key indexes, the functions, the materialized view and the
activity rollup. An index is named here by its versioned .sql file only: its
name, table and definition are read from the CREATE INDEX statement of that
file, the one the migration runs, so what is verified is what was built.

The models' Meta declares the same indexes once more, in Django's terms:
the migrations' state (BuildIndexConcurrently.state_forwards) holds them,
and without them `makemigrations` would write RemoveIndex operations.
tests/collaboration/test_index_definitions.py checks that each Meta index is
the .sql file's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.db import connections
from pglast import ast, parse_sql
from pglast.stream import RawStream

from .models import ROLLUP_NAME
from .sqlfiles import load_sql

OK = "ok"
MISSING = "missing"
INVALID = "invalid"
DIFFERS = "differs"


def normalized_index(statement: str, schema: str | None = None) -> str:
    """Return a CREATE INDEX statement as plain, comparable text.

    CONCURRENTLY and IF NOT EXISTS (how it is built) are dropped, the table
    is qualified with `schema` when given, and pglast prints the rest in one
    canonical form: pg_get_indexdef()'s output and the .sql file's statement
    of the same index come out equal.
    """
    (raw,) = parse_sql(statement)
    index = raw.stmt
    if not isinstance(index, ast.IndexStmt):
        raise ValueError(f"not a CREATE INDEX statement: {statement[:80]}")
    index.concurrent = False
    index.if_not_exists = False
    if schema is not None:
        index.relation.schemaname = schema
    return RawStream()(index)


@dataclass(frozen=True)
class IndexSpec:
    """An index the migrations build, defined by its versioned .sql file."""

    sql_file: str

    @cached_property
    def statement(self) -> ast.IndexStmt:
        """Return the parsed CREATE INDEX statement of the .sql file."""
        (raw,) = parse_sql(load_sql(self.sql_file))
        return raw.stmt

    @property
    def name(self) -> str:
        return self.statement.idxname

    @property
    def table(self) -> str:
        return self.statement.relation.relname

    def definition(self, schema: str = "public") -> str:
        """Return the expected definition, the table qualified with `schema`."""
        return normalized_index(load_sql(self.sql_file), schema)

    def matches(self, indexdef: str, schema: str = "public") -> bool:
        """Return whether pg_get_indexdef() output is this index's definition."""
        return normalized_index(indexdef) == self.definition(schema)

    def create_sql(self) -> str:
        """Return a plain CREATE INDEX statement (not concurrent)."""
        return normalized_index(load_sql(self.sql_file))

    def drop_sql(self, concurrently: bool = False) -> str:
        """Return a DROP INDEX IF EXISTS statement."""
        how = "CONCURRENTLY " if concurrently else ""
        return f"DROP INDEX {how}IF EXISTS {self.name}"


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    # The signature as regprocedure prints it.
    signature: str
    sql_file: str


@dataclass(frozen=True)
class ViewSpec:
    name: str
    unique_index: str
    sql_file: str


# The seed's six indexes (migration 0002): the benchmark's comparison drops
# these.
INDEXES = [
    IndexSpec(f"indexes/{name}_v1.sql")
    for name in [
        "idx_organization_members_user_lookup",
        "idx_organization_members_org_role",
        "idx_study_collaborators_performance",
        "idx_study_collaborators_user_studies",
        "idx_collaboration_activity_timeline",
        "idx_studies_organization_lookup",
    ]
]

# Indexes of the foreign keys to users (migration 0006): not the seed's, so
# the benchmark's comparison leaves them in place.
FOREIGN_KEY_INDEXES = [
    IndexSpec(f"indexes/{name}_v1.sql")
    for name in [
        "idx_organization_members_invited_by",
        "idx_studies_created_by",
        "idx_study_collaborators_added_by",
        "idx_collaboration_activity_user",
    ]
]

FUNCTIONS = [
    FunctionSpec(
        "get_user_collaborative_studies",
        "get_user_collaborative_studies(uuid)",
        "functions/get_user_collaborative_studies_v4.sql",
    ),
    FunctionSpec(
        "get_user_collaborative_studies",
        "get_user_collaborative_studies(uuid,integer,timestamp with time zone,"
        "timestamp with time zone,uuid)",
        "functions/get_user_collaborative_studies_paged_v2.sql",
    ),
    FunctionSpec(
        "get_organization_analytics",
        "get_organization_analytics(uuid,integer)",
        "functions/get_organization_analytics_v5.sql",
    ),
    FunctionSpec(
        "organization_analytics_window",
        "organization_analytics_window(uuid,timestamp with time zone,"
        "timestamp with time zone)",
        "functions/organization_analytics_window_v2.sql",
    ),
    FunctionSpec(
        "organization_activity_scan",
        "organization_activity_scan(uuid,timestamp with time zone,"
        "timestamp with time zone)",
        "functions/organization_activity_scan_v1.sql",
    ),
    FunctionSpec(
        "organization_rollup_covered_until",
        "organization_rollup_covered_until(uuid)",
        "functions/organization_rollup_covered_until_v1.sql",
    ),
]

# The triggers that keep the rollup and the summaries beside it (migrations
# 0005, 0012, 0015), by table.
ROLLUP_TRIGGERS = {
    "collaboration_activity": [
        "collaboration_activity_rollup_insert",
        "collaboration_activity_rollup_update",
        "collaboration_activity_rollup_delete",
        "collaboration_activity_rollup_truncate",
        # Those of user_collaborative_studies (migration 0015).
        "collaboration_activity_list_insert",
        "collaboration_activity_list_update",
        "collaboration_activity_list_delete",
        "collaboration_activity_list_truncate",
    ],
    "studies": [
        "studies_rollup_update",
        "studies_rollup_delete",
        "studies_rollup_truncate",
        "studies_list_update",
    ],
    # The member counts get_organization_analytics reads (migration 0012).
    "organization_members": [
        "organization_members_count_insert",
        "organization_members_count_update",
        "organization_members_count_delete",
        "organization_members_count_truncate",
    ],
    "organization_member_last_activity": [
        "organization_member_last_activity_count_insert",
        "organization_member_last_activity_count_update",
        "organization_member_last_activity_count_delete",
        "organization_member_last_activity_count_truncate",
    ],
    # The studies get_user_collaborative_studies reads (migration 0015).
    "study_collaborators": [
        "study_collaborators_list_insert",
        "study_collaborators_list_update",
        "study_collaborators_list_delete",
        "study_collaborators_list_truncate",
    ],
}

REBUILD_HINT = f"manage.py refreshviews --view {ROLLUP_NAME}"

VIEW = ViewSpec(
    "team_productivity_analytics",
    "team_productivity_analytics_organization_id_key",
    "views/team_productivity_analytics_v1.sql",
)


@dataclass(frozen=True)
class Finding:
    kind: str
    name: str
    status: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == OK

    def line(self) -> str:
        """Return the one-line report of this object."""
        text = f"{self.status:<8} {self.kind:<9} {self.name}"
        return f"{text}: {self.detail}" if self.detail else text

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
        }


def index_by_name(name: str) -> IndexSpec:
    """Return the spec of one of the six indexes."""
    for spec in INDEXES:
        if spec.name == name:
            return spec
    raise KeyError(name)


def check_index(cursor, spec: IndexSpec, schema: str) -> Finding:
    """Compare one index with its promised definition."""
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisready"
        "  FROM pg_index AS i"
        "  JOIN pg_class AS c ON c.oid = i.indexrelid"
        "  JOIN pg_namespace AS n ON n.oid = c.relnamespace"
        " WHERE c.relname = %s AND n.nspname = %s",
        [spec.name, schema],
    )
    row = cursor.fetchone()
    if row is None:
        return Finding("index", spec.name, MISSING)
    actual, valid, ready = row
    if not (valid and ready):
        return Finding("index", spec.name, INVALID, "a failed concurrent build")
    if not spec.matches(actual, schema):
        expected = spec.definition(schema)
        return Finding("index", spec.name, DIFFERS, f"{actual} (expected {expected})")
    return Finding("index", spec.name, OK)


def check_function(cursor, spec: FunctionSpec) -> Finding:
    """Check that a function exists with its signature, STABLE, path pinned."""
    cursor.execute(
        "SELECT p.provolatile, coalesce(p.proconfig, '{}')"
        "  FROM pg_proc AS p WHERE p.oid = to_regprocedure(%s)",
        [spec.signature],
    )
    row = cursor.fetchone()
    if row is None:
        return Finding("function", spec.signature, MISSING)
    volatility, config = row
    if volatility != "s":
        return Finding("function", spec.signature, DIFFERS, "not STABLE")
    if not any(item.startswith("search_path=") for item in config):
        return Finding("function", spec.signature, DIFFERS, "search_path not set")
    return Finding("function", spec.signature, OK)


def check_view(cursor, spec: ViewSpec, schema: str) -> Finding:
    """Check that the view exists, is populated and has its unique index."""
    cursor.execute(
        "SELECT ispopulated FROM pg_matviews"
        " WHERE schemaname = %s AND matviewname = %s",
        [schema, spec.name],
    )
    row = cursor.fetchone()
    if row is None:
        return Finding("view", spec.name, MISSING)
    if not row[0]:
        return Finding("view", spec.name, INVALID, "not populated")
    cursor.execute(
        "SELECT i.indisunique AND i.indisvalid AND i.indpred IS NULL"
        "       AND i.indexprs IS NULL AND i.indrelid = %s::regclass"
        "  FROM pg_index AS i"
        "  JOIN pg_class AS c ON c.oid = i.indexrelid"
        "  JOIN pg_namespace AS n ON n.oid = c.relnamespace"
        " WHERE c.relname = %s AND n.nspname = %s",
        [f"{schema}.{spec.name}", spec.unique_index, schema],
    )
    row = cursor.fetchone()
    if row is None:
        return Finding("view", spec.name, MISSING, f"no index {spec.unique_index}")
    if not row[0]:
        return Finding(
            "view",
            spec.name,
            INVALID,
            f"{spec.unique_index} cannot serve REFRESH CONCURRENTLY",
        )
    return Finding("view", spec.name, OK)


def check_rollup(cursor) -> Finding:
    """Check the rollup's tables, triggers and rebuild function; say when built.

    A rollup not built yet is in order: get_organization_analytics then
    scans the raw rows, with the same results, until the first rebuild.
    """
    cursor.execute(
        "SELECT to_regclass('organization_activity_rollup_state') IS NOT NULL,"
        "       to_regprocedure("
        "           'refresh_organization_activity_rollup(boolean,timestamptz)'"
        "       ) IS NOT NULL"
    )
    has_state, has_refresh = cursor.fetchone()
    if not (has_state and has_refresh):
        return Finding("rollup", ROLLUP_NAME, MISSING)
    cursor.execute(
        "SELECT t.tgname, t.tgenabled <> 'D' FROM pg_trigger AS t"
        " WHERE t.tgrelid = ANY(%s::regclass[]) AND NOT t.tgisinternal",
        [list(ROLLUP_TRIGGERS)],
    )
    enabled = dict(cursor.fetchall())
    wanted = [name for names in ROLLUP_TRIGGERS.values() for name in names]
    missing = [name for name in wanted if name not in enabled]
    if missing:
        return Finding(
            "rollup", ROLLUP_NAME, MISSING, f"no trigger {', '.join(missing)}"
        )
    disabled = [name for name in wanted if not enabled[name]]
    if disabled:
        return Finding(
            "rollup", ROLLUP_NAME, INVALID, f"trigger disabled: {', '.join(disabled)}"
        )
    cursor.execute(
        "SELECT covered_until, refreshed_at, refresh_ms"
        "  FROM organization_activity_rollup_state"
    )
    covered, refreshed, took = cursor.fetchone()
    if covered is None:
        return Finding(
            "rollup",
            ROLLUP_NAME,
            OK,
            f"not built yet, analytics scan raw rows until {REBUILD_HINT}",
        )
    return Finding(
        "rollup",
        ROLLUP_NAME,
        OK,
        f"covers activity before {covered:%Y-%m-%d %H:%M:%S %Z}"
        f" (rebuilt at {refreshed:%Y-%m-%d %H:%M:%S %Z} in {took} ms)",
    )


def verify(using: str = "default") -> list[Finding]:
    """Return one finding per promised object, in a fixed order."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = cursor.fetchone()[0]
        findings = [
            check_index(cursor, spec, schema) for spec in INDEXES + FOREIGN_KEY_INDEXES
        ]
        findings += [check_function(cursor, spec) for spec in FUNCTIONS]
        findings.append(check_view(cursor, VIEW, schema))
        findings.append(check_rollup(cursor))
    return findings
