"""An index of a relation's history rows by key (history.relations).

The index page asks when the history first saw each index, the table page
each table's size before a moment, a table's charts its own rows: without
it each is a scan of the whole history. Built concurrently (the collector
keeps writing), under a short lock_timeout, rebuilt if left INVALID.
"""

from django.db import migrations, models

from perfconsole.history.sqlfiles import BuildIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("history", "0006_statement_baseline"),
    ]

    operations = [
        BuildIndexConcurrently(
            model_name="counterdelta",
            index=models.Index(
                fields=["database", "source", "key", "level", "period_start"],
                condition=models.Q(source__in=["table", "index", "size"]),
                name="history_relation_by_key",
            ),
            sql_file="schema/relation_history_index_v1.sql",
        ),
    ]
