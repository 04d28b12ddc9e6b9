"""Remove a monitored database with its history: count first, then delete in bulk.

The admin's own deletion collects every related object to list it, which is
millions of history rows for a target watched a while. The confirmation
page shows one count per table instead, and the deletion removes the
history with one DELETE per table, children before the statement texts they
point to, in one transaction.
"""

from __future__ import annotations

from django.db import connection, models, transaction

from perfconsole.core.db import tag_sql

from .models import (
    Baseline,
    CounterDelta,
    MonitoredDatabase,
    Snapshot,
    StatementBaseline,
    StatementDelta,
    StatementText,
)

# Deleted with one statement each, in this order: the first rows point to
# the statement texts.
BULK_DELETED: tuple[type[models.Model], ...] = (
    StatementDelta,
    StatementBaseline,
    CounterDelta,
    Baseline,
    StatementText,
    Snapshot,
)
# A large history takes longer than a page's statement timeout to delete.
DELETE_TIMEOUT_MS = 300_000


def cascaded_relations() -> list[models.ForeignObjectRel]:
    """Return the relations whose rows are deleted with a monitored database."""
    return [
        relation
        for relation in MonitoredDatabase._meta.related_objects
        if relation.on_delete is models.CASCADE
    ]


def history_counts(database: MonitoredDatabase) -> list[tuple[str, int]]:
    """Return (table's verbose plural name, rows of the database) per table."""
    counts = []
    for relation in cascaded_relations():
        model = relation.related_model
        rows = model._base_manager.filter(**{relation.field.name: database}).count()
        counts.append((str(model._meta.verbose_name_plural), rows))
    return counts


def remove_database(database: MonitoredDatabase) -> None:
    """Delete the database's history in bulk, then the database itself."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                tag_sql("SELECT set_config('statement_timeout', %s, true)"),
                [f"{DELETE_TIMEOUT_MS}ms"],
            )
            for model in BULK_DELETED:
                column = model._meta.get_field("database").column
                cursor.execute(
                    tag_sql(f"DELETE FROM {model._meta.db_table} WHERE {column} = %s"),
                    [database.pk],
                )
        # What is left (standbys naming it, other apps' rows) is small: the
        # ORM's cascade handles it.
        database.delete()
