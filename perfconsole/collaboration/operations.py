"""A migration operation that builds one of the seed's indexes safely.

The seed's indexes (TARGETS.md) and the later ones are built from their
versioned .sql files, which also define what verifyperf expects.
"""

from __future__ import annotations

from django.contrib.postgres.operations import NotInTransactionMixin
from django.db.migrations.operations.base import Operation

from perfconsole.collaboration.sqlfiles import load_sql

# Short: CREATE INDEX CONCURRENTLY waits for a SHARE UPDATE EXCLUSIVE lock
# and, while it waits, queues every writer behind it. Giving up fast leaves an
# INVALID index that the next run drops and rebuilds.
LOCK_TIMEOUT = "5s"


def index_is_invalid(connection, name: str) -> bool:
    """Say whether an index of that name exists and is not valid."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT NOT (i.indisvalid AND i.indisready) FROM pg_index AS i"
            " WHERE i.indexrelid = to_regclass(%s)",
            [name],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


class BuildIndexConcurrently(NotInTransactionMixin, Operation):
    """
    Build an index with CREATE INDEX CONCURRENTLY IF NOT EXISTS from a SQL
    file, first dropping a leftover INVALID index of the same name.
    """

    atomic = False
    reversible = True
    # The sql/ folder the file is read from: this app's; another app's
    # migrations subclass with its own reader.
    read_sql = staticmethod(load_sql)

    def __init__(self, model_name, index, sql_file):
        self.model_name = model_name
        self.index = index
        self.sql_file = sql_file

    @property
    def model_name_lower(self):
        return self.model_name.lower()

    def deconstruct(self):
        kwargs = {
            "model_name": self.model_name,
            "index": self.index,
            "sql_file": self.sql_file,
        }
        return self.__class__.__qualname__, [], kwargs

    def state_forwards(self, app_label, state):
        state.add_index(app_label, self.model_name_lower, self.index)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._ensure_not_in_transaction(schema_editor)
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        name = self.index.name
        schema_editor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        # A concurrent build runs for as long as the table needs.
        schema_editor.execute("SET statement_timeout = 0")
        if schema_editor.collect_sql:
            schema_editor.collected_sql.append(
                f"-- only if {name} exists and is INVALID (a failed build):"
            )
            schema_editor.collected_sql.append(
                f"-- DROP INDEX CONCURRENTLY IF EXISTS {name};"
            )
        elif index_is_invalid(schema_editor.connection, name):
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        schema_editor.execute(self.read_sql(self.sql_file))
        schema_editor.execute("RESET statement_timeout")
        schema_editor.execute("RESET lock_timeout")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._ensure_not_in_transaction(schema_editor)
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {self.index.name}")

    def describe(self):
        return (
            f"Build index {self.index.name} on {self.model_name} concurrently "
            "(rebuilding it if INVALID)"
        )

    @property
    def migration_name_fragment(self):
        return self.index.name.lower()
