"""Where a collection reads the live statistics views: here, or on a target.

The storing statements (sql/collect/) read the views through a placeholder,
"current" in braces. For the console's own database it is the view reading
itself (sql/current/), run inside the storing statement. For a target the
reader runs that reading on the target's connection (read-only, with the
console's statement timeout), copies its rows into a temporary table on the
console's connection (COPY out and COPY in, no row parsed in Python) and
the placeholder reads the staged rows: one storing statement for both.
"""

from __future__ import annotations

import psycopg
from django.db import DatabaseError, connection, connections, transaction

from perfconsole.core.db import explain_database_error, limit_transaction, tag_sql
from perfconsole.monitoring.extension import statements_status

# Temporary tables of one collection (dropped at its commit). Every source
# but the statements has the shape of sql/current/*.sql other than the
# statements': key, reset_at, counters, gauges; one table holds them all.
STAGED_COUNTERS = "history_staged_counters"
STAGED_STATEMENTS = "history_staged_statements"
STAGED_TEXTS = "history_staged_texts"
COUNTER_COLUMNS = (
    "source text, key text, reset_at timestamptz, counters jsonb, gauges jsonb"
)
# The columns of sql/current/statements_v2_pgss_*.sql, in their order.
STATEMENT_COLUMNS = (
    "dbid bigint, userid bigint, queryid bigint, toplevel boolean, query text,"
    " reset_at timestamptz, calls bigint, rows bigint, total_exec_time float8,"
    " total_plan_time float8, shared_blks_hit bigint, shared_blks_read bigint,"
    " shared_blks_dirtied bigint, shared_blks_written bigint,"
    " temp_blks_read bigint, temp_blks_written bigint, blk_read_time float8,"
    " blk_write_time float8, wal_bytes bigint"
)
# The staged entries that have neither a baseline nor a stored text: only
# theirs are read with texts from the target.
TEXTS_NEEDED_SQL = f"""
SELECT DISTINCT l.queryid FROM pg_temp.{STAGED_STATEMENTS} l
WHERE NOT EXISTS (
        SELECT 1 FROM history_statementbaseline b
        WHERE b.database_id = %(database)s
          AND (b.dbid, b.userid, b.queryid, b.toplevel)
              = (l.dbid, l.userid, l.queryid, l.toplevel))
  AND NOT EXISTS (
        SELECT 1 FROM history_statementtext t
        WHERE t.database_id = %(database)s
          AND (t.dbid, t.userid, t.queryid, t.toplevel)
              = (l.dbid, l.userid, l.queryid, l.toplevel))
"""


class SourceUnreadable(Exception):
    """The target could not give one source's rows (the reason is the text)."""


class TargetUnreachable(Exception):
    """The target could not be connected to or read at all (the reason)."""


def connect_target(database):
    """Connect to a target; return its alias. Raise TargetUnreachable.

    Done before the console's transaction opens: a target that does not
    answer holds no transaction on the console while it times out.
    """
    from .connections import connection_alias

    alias = connection_alias(database)
    try:
        connections[alias].ensure_connection()
    except DatabaseError as error:
        connections[alias].close()
        raise TargetUnreachable(cannot_connect(error, database)) from None
    return alias


class LocalReader:
    """Read the console's own database inside the storing statements."""

    remote = False

    def __init__(self, cursor):
        self.cursor = cursor
        self.server_version = connection.pg_version

    def statements_status(self):
        """Return pg_stat_statements' status in the console's database."""
        return statements_status()

    def current(self, source, sql):
        """Return what the placeholder reads: the view reading itself."""
        return sql

    def statement_sources(self, database, live, texts):
        """Return the statements' placeholders: the readings themselves."""
        return live, texts

    def fetch_one(self, sql):
        """Run a one-row reading of the views; return its row."""
        self.cursor.execute(tag_sql(sql))
        return self.cursor.fetchone()


class RemoteReader:
    """Read a target on its own connection; stage the rows on the console's."""

    remote = True

    def __init__(self, database, alias, console_cursor):
        self.database = database
        self.alias = alias
        self.target = connections[alias]
        self.console_cursor = console_cursor
        self.server_version = 0
        self.cursor = None
        self.atomic = None

    def __enter__(self):
        """Open the target's read-only transaction; make the staging tables.

        A target that cannot be reached raises here: the whole collection
        fails, with libpq's reason.
        """
        self.atomic = transaction.atomic(using=self.alias)
        try:
            self.atomic.__enter__()
        except DatabaseError as error:
            self.target.close()
            raise TargetUnreachable(cannot_connect(error, self.database)) from None
        try:
            self.open()
        except BaseException as error:
            self.__exit__(type(error), error, error.__traceback__)
            raise
        return self

    def __exit__(self, kind, error, traceback):
        """End the target's transaction (it wrote nothing) and disconnect.

        One connection per collection: a worker collecting many targets
        keeps no idle connection to any of them.
        """
        try:
            if self.cursor is not None:
                self.cursor.close()
            transaction.set_rollback(True, using=self.alias)
            self.atomic.__exit__(kind, error, traceback)
        finally:
            self.target.close()
        return False

    def open(self):
        """Limit the target's transaction; create the console's staging tables."""
        try:
            self.cursor = self.target.cursor()
            limit_transaction(self.cursor, read_only=True)
            # Timestamps copied as text are read back by the console: one style.
            self.cursor.execute(tag_sql("SELECT set_config('DateStyle', 'ISO', true)"))
            self.server_version = self.target.pg_version
        except DatabaseError as error:
            raise TargetUnreachable(explain_database_error(error, self.alias)) from None
        for table, columns in (
            (STAGED_COUNTERS, COUNTER_COLUMNS),
            (STAGED_STATEMENTS, STATEMENT_COLUMNS),
            (STAGED_TEXTS, STATEMENT_COLUMNS),
        ):
            self.console_cursor.execute(
                tag_sql(f"CREATE TEMPORARY TABLE {table} ({columns}) ON COMMIT DROP")
            )

    def statements_status(self):
        """Return pg_stat_statements' status on the target."""
        with self.reading():
            return statements_status(using=self.alias)

    def current(self, source, sql):
        """Stage one source's rows; return the reading of the staged rows."""
        # Source names are the collector's constants, never input.
        self.stage(STAGED_COUNTERS, f"SELECT '{source}'::text, q.* FROM ({sql}) q")
        return (
            "SELECT key, reset_at, counters, gauges"
            f" FROM pg_temp.{STAGED_COUNTERS} WHERE source = '{source}'"
        )

    def statement_sources(self, database, live, texts):
        """Stage the entries, and the texts of the new ones; return readings.

        The texts are the largest part of pg_stat_statements: only entries
        the console has neither a baseline nor a text for are read with
        theirs.
        """
        self.stage(STAGED_STATEMENTS, live)
        self.console_cursor.execute(
            tag_sql(TEXTS_NEEDED_SQL), {"database": database.id}
        )
        needed = [row[0] for row in self.console_cursor.fetchall()]
        if needed:
            ids = "{" + ",".join(str(int(queryid)) for queryid in needed) + "}"
            self.stage(
                STAGED_TEXTS,
                f"SELECT x.* FROM ({texts}) x WHERE x.queryid = ANY('{ids}'::bigint[])",
            )
        return (
            f"SELECT * FROM pg_temp.{STAGED_STATEMENTS}",
            f"SELECT * FROM pg_temp.{STAGED_TEXTS}",
        )

    def fetch_one(self, sql):
        """Run a one-row reading on the target; return its row."""
        with self.reading():
            self.cursor.execute(tag_sql(sql))
            return self.cursor.fetchone()

    def stage(self, table, sql):
        """Copy a reading's rows from the target into a staging table."""
        with self.reading():
            with self.target.wrap_database_errors:
                with self.cursor.cursor.copy(
                    tag_sql(f"COPY ({sql}) TO STDOUT")
                ) as source:
                    blocks = [bytes(block) for block in source]
        with connection.wrap_database_errors:
            with self.console_cursor.cursor.copy(
                tag_sql(f"COPY pg_temp.{table} FROM STDIN")
            ) as sink:
                for block in blocks:
                    sink.write(block)

    def reading(self):
        """Return a savepoint on the target whose errors say what failed there."""
        return TargetReading(self)


class TargetReading:
    """A savepoint on the target: its errors become SourceUnreadable."""

    def __init__(self, reader):
        self.reader = reader
        self.atomic = transaction.atomic(using=reader.alias)

    def __enter__(self):
        self.atomic.__enter__()

    def __exit__(self, kind, error, traceback):
        self.atomic.__exit__(kind, error, traceback)
        if isinstance(error, DatabaseError | psycopg.Error):
            raise SourceUnreadable(explain_database_error(error, self.reader.alias))
        return False


def cannot_connect(error, database):
    """Say why a target refused or missed the connection, as a connection test.

    libpq's own words on one line (refused, password, no such database,
    timeout), never the password.
    """
    from .connection_test import one_line, scrub

    return scrub(f"cannot connect: {one_line(error)}", database)
