"""Read statistics the console's one way: tagged, guarded, explained.

Every statement the console sends for monitoring carries a comment tag
(tag_sql), so the console can hide its own statements from query lists. Reads
run in a read-only transaction with a statement and lock timeout
(monitoring_cursor for raw SQL, reading_statistics for the ORM), so a catalog
lock never hangs a page, and their errors come out as a sentence a DBA can
act on (explain_database_error). A connection of its own is opened with the
console's settings (raw_connection); a statement with $n parameters is
planned generically (generic_plan); the cache hit rate is counted once
(cache_hits).
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

# The tag marks every statement the console sends for monitoring.
QUERY_TAG = "/* perfconsole */"
FIRST_WORD = re.compile(r"^\s*(?:/\*.*?\*/\s*)*([A-Za-z]+)", re.DOTALL)


def tag_sql(sql: str) -> str:
    """Return sql with the console's tag after its first keyword.

    PostgreSQL 18's pg_stat_statements drops comments before a statement,
    so a leading tag would not reach query_stats; one inside the statement
    does ("SELECT /* perfconsole */ ...").
    """
    if QUERY_TAG in sql:
        match = FIRST_WORD.match(sql)
        if match and sql.find(QUERY_TAG) > match.start(1):
            return sql
        sql = sql.replace(QUERY_TAG, "", 1)
    match = FIRST_WORD.match(sql)
    if not match:
        return f"{QUERY_TAG} {sql}"
    return f"{sql[: match.end(1)]} {QUERY_TAG}{sql[match.end(1) :]}"


class StatisticsUnavailable(Exception):
    """Statistics could not be read right now (timeout, lock, missing grant)."""


def sqlstate_of(error: BaseException) -> str | None:
    """Return the SQLSTATE of a psycopg error, or of the one Django wrapped."""
    return getattr(getattr(error, "__cause__", None), "sqlstate", None) or getattr(
        error, "sqlstate", None
    )


QUERY_CANCELED = "57014"
LOCK_NOT_AVAILABLE = "55P03"
TOO_MANY_CONNECTIONS = "53300"


def stopped_by(error: BaseException) -> str | None:
    """Return what stopped a statement, or None if nothing did.

    "lock timeout", "statement timeout" or "cancel" (another session's
    pg_cancel_backend): the last two share one SQLSTATE, only the message
    tells them apart.
    """
    sqlstate = sqlstate_of(error)
    if sqlstate == LOCK_NOT_AVAILABLE:
        return "lock timeout"
    if sqlstate == QUERY_CANCELED:
        return "cancel" if "user request" in str(error) else "statement timeout"
    return None


def explain_database_error(error, using="default"):
    """Turn a database error into a sentence a DBA can act on.

    using: the alias of the connection that failed, whose role a missing
    grant names (a monitored target's own role on its server).
    """
    sqlstate = sqlstate_of(error)
    stopped = stopped_by(error)
    if stopped == "cancel":
        return "The statistics query was cancelled by another session."
    if stopped == "statement timeout":
        return "Statistics unavailable right now: the query hit its statement timeout."
    if stopped == "lock timeout":
        return (
            "Statistics unavailable right now: a catalog lock is held by another "
            "session (lock timeout)."
        )
    if sqlstate == "42501":
        role = connections[using].settings_dict["USER"] or "your_role"
        return (
            "Permission denied: grant the console's role pg_monitor "
            f"(GRANT pg_monitor TO {role})."
        )
    return explain_other_error(sqlstate, error)


# Errors that mean the server, not the query, failed: no connection (08 and
# libpq's own errors, which have no SQLSTATE), shutdown, recovery.
SERVER_GONE_STATES = {"57P01", "57P02", "57P03"}
# A view or function the console created is missing or has another shape.
SCHEMA_STATES = {"42P01", "42703", "42883"}


def server_gone(sqlstate: str | None) -> bool:
    """Return True if an error's SQLSTATE says the server, not a statement, failed."""
    return (
        sqlstate is None or sqlstate.startswith("08") or sqlstate in SERVER_GONE_STATES
    )


def explain_other_error(sqlstate, error):
    """Name what happened for the errors that are not timeouts or grants."""
    if server_gone(sqlstate):
        return f"The database server could not be reached: {error}"
    if sqlstate == TOO_MANY_CONNECTIONS:
        return f"The database server accepts no more connections: {error}"
    if sqlstate.startswith("53"):
        return f"The database server is out of resources ({sqlstate}): {error}"
    if sqlstate in SCHEMA_STATES:
        return (
            f"A statistics view is missing or outdated ({error}): run "
            "python manage.py migrate, then python manage.py syncstatviews."
        )
    return f"The statistics query failed (SQLSTATE {sqlstate}): {error}"


def limit_transaction(cursor, statement_timeout_ms=None, *, read_only=True):
    """Give the current transaction statement and lock timeouts; make it read-only.

    With read_only=False it stays writable, for work that stores what it
    reads (the statistics history's collection).
    """
    timeout = statement_timeout_ms or settings.MONITORING_STATEMENT_TIMEOUT_MS
    read_only_sql = (
        " set_config('transaction_read_only', 'on', true)," if read_only else ""
    )
    cursor.execute(
        # pg_stat_statements keeps the first text of a statement shape; the
        # extra column makes this shape the console's own, so its text (and
        # tag) is never another caller's untagged one.
        tag_sql(
            "SELECT set_config('statement_timeout', %s, true),"
            " set_config('lock_timeout', %s, true),"
            f"{read_only_sql}"
            " 'perfconsole.monitoring' AS reader"
        ),
        [f"{timeout}ms", f"{settings.MONITORING_LOCK_TIMEOUT_MS}ms"],
    )


def _tag_every_statement(execute, sql, params, many, context):
    # psycopg's composed SQL objects have no text to tag until executed.
    if isinstance(sql, str):
        sql = tag_sql(sql)
    return execute(sql, params, many, context)


def tag_connection(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Tag every statement a Django connection sends (on connection_created).

    The admin, sessions, auth and django-q2's ORM broker all go through
    Django's connections, so the query table can tell the console's own
    statements from the product's. First in the list: a wrapper pushed
    with execute_wrapper() before the connection opened is popped from the
    end.
    """
    if _tag_every_statement not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, _tag_every_statement)


@contextmanager
def reading_statistics(
    using: str = "default", statement_timeout_ms: int | None = None
) -> Iterator[BaseDatabaseWrapper]:
    """Yield the connection read-only, tagged, with statement and lock timeouts.

    Every statement of the block, the ORM's included, carries the tag: every
    Django connection tags its statements (tag_connection).
    Database errors come out as StatisticsUnavailable with a clear message.
    The transaction (or savepoint) is rolled back at the end, so the timeouts
    never outlive the block.
    """
    connection = connections[using]
    try:
        with transaction.atomic(using=using):
            with connection.cursor() as cursor:
                limit_transaction(cursor, statement_timeout_ms)
            yield connection
            transaction.set_rollback(True, using=using)
    except DatabaseError as error:
        raise StatisticsUnavailable(explain_database_error(error, using)) from error


@contextmanager
def monitoring_cursor(
    using: str = "default", statement_timeout_ms: int | None = None
) -> Iterator[CursorWrapper]:
    """Yield a cursor in reading_statistics(): tagged, read-only, time-limited."""
    with reading_statistics(using, statement_timeout_ms) as connection:
        with connection.cursor() as cursor:
            yield cursor


def fetch_dicts(sql, params=None, using="default"):
    """Run one tagged monitoring query and return its rows as dicts."""
    with monitoring_cursor(using) as cursor:
        cursor.execute(tag_sql(sql), params or [])
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


# -- connections of their own --------------------------------------------------

# Django's adapters and cursor class belong to its own connections.
DJANGO_ONLY_PARAMS = ("cursor_factory", "context")


def console_connection_params(using: str = "default", **overrides: Any) -> dict:
    """Return psycopg.connect() arguments with the console's settings.

    Database, role, application_name, connect_timeout, options and
    prepare_threshold are the Django connection's; overrides win.
    """
    params = connections[using].get_connection_params()
    for key in DJANGO_ONLY_PARAMS:
        params.pop(key, None)
    params.update(overrides)
    return params


def raw_connection(
    params: dict | None = None, *, autocommit: bool = True
) -> psycopg.Connection:
    """Open a psycopg connection of its own, with the console's settings by default.

    For work that must not share Django's connection: a session lock held
    exactly as long as the work, a concurrent session, a probe.
    """
    if params is None:
        params = console_connection_params()
    return psycopg.connect(**params, autocommit=autocommit)


# -- generic plans ------------------------------------------------------------

GENERIC_PLAN_VERSION = 160000
# The prepared statement that gives a generic plan before PostgreSQL 16.
PREPARED_PLAN = "perfconsole_generic_plan"


class PlanSession(Protocol):
    """Where a plan is made: execute() runs one tagged statement."""

    server_version: int

    def execute(self, statement: str, params: Any = None) -> Any: ...


def generic_plan(
    session: PlanSession, statement: str, parameters: int, output: str = "TEXT"
) -> list[tuple]:
    """Return EXPLAIN's rows; a generic plan when the statement has $n.

    EXPLAIN (GENERIC_PLAN) needs PostgreSQL 16+; before that, PREPARE and
    EXPLAIN EXECUTE with NULL arguments under force_generic_plan give the
    same plan.
    """
    if not parameters:
        return session.execute(f"EXPLAIN (FORMAT {output}) {statement}").fetchall()
    if session.server_version >= GENERIC_PLAN_VERSION:
        return session.execute(
            f"EXPLAIN (GENERIC_PLAN, FORMAT {output}) {statement}"
        ).fetchall()
    # A prepared statement outlives a rolled-back transaction: one that a
    # failed plan left on a reused connection is freed first.
    leftover = session.execute(
        "SELECT 1 FROM pg_prepared_statements WHERE name = %s", [PREPARED_PLAN]
    ).fetchone()
    if leftover:
        session.execute(f"DEALLOCATE {PREPARED_PLAN}")
    session.execute("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
    session.execute(f"PREPARE {PREPARED_PLAN} AS {statement}")
    arguments = ", ".join(["NULL"] * parameters)
    rows = session.execute(
        f"EXPLAIN (FORMAT {output}) EXECUTE {PREPARED_PLAN}({arguments})"
    ).fetchall()
    session.execute(f"DEALLOCATE {PREPARED_PLAN}")
    return rows


class TaggedCursor:
    """A Django cursor as a PlanSession: statements tagged, execute() chains."""

    def __init__(self, cursor: CursorWrapper, server_version: int) -> None:
        self.cursor = cursor
        self.server_version = server_version

    def execute(self, statement: str, params: Any = None) -> CursorWrapper:
        """Run one statement with the tag; return the cursor for its rows."""
        self.cursor.execute(tag_sql(statement), params)
        return self.cursor


# -- cache hit rate -----------------------------------------------------------


@dataclass(frozen=True)
class CacheHits:
    """Blocks found in shared buffers (hit) and read from outside (read)."""

    hit: int
    read: int

    @property
    def ratio(self) -> float | None:
        """Return hit / requested, None while no block was requested."""
        requested = self.hit + self.read
        return self.hit / requested if requested else None

    @property
    def pct(self) -> float | None:
        """Return the hit rate in percent, to two decimals."""
        ratio = self.ratio
        return None if ratio is None else round(100 * ratio, 2)


CACHE_HITS_SQL = """
SELECT d.datname AS database_name,
       d.blks_hit AS database_hit, d.blks_read AS database_read,
       (SELECT sum(heap_blks_hit) FROM pg_statio_user_tables) AS tables_hit,
       (SELECT sum(heap_blks_read) FROM pg_statio_user_tables) AS tables_read,
       (SELECT sum(idx_blks_hit) FROM pg_statio_user_indexes) AS indexes_hit,
       (SELECT sum(idx_blks_read) FROM pg_statio_user_indexes) AS indexes_read
FROM pg_stat_database AS d
WHERE d.datname = current_database()
"""
CACHE_SCOPES = ("database", "tables", "indexes")


def cache_hits(using: str = "default") -> dict[str, Any]:
    """Return CacheHits of this database, its user tables and their indexes.

    Keys: database, tables, indexes (CacheHits) and database_name.
    """
    row = fetch_dicts(CACHE_HITS_SQL, using=using)[0]
    hits: dict[str, Any] = {
        scope: CacheHits(int(row[f"{scope}_hit"] or 0), int(row[f"{scope}_read"] or 0))
        for scope in CACHE_SCOPES
    }
    hits["database_name"] = row["database_name"]
    return hits
