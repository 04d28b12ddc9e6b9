"""The statements' baseline in a table of its own, one column per counter."""

import django.db.models.deletion
from django.db import migrations, models

from perfconsole.history.sqlfiles import read_sql


class Migration(migrations.Migration):
    dependencies = [
        ("history", "0005_window_compare"),
    ]

    operations = [
        migrations.CreateModel(
            name="StatementBaseline",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "database",
                        "dbid",
                        "userid",
                        "queryid",
                        "toplevel",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("dbid", models.BigIntegerField()),
                ("userid", models.BigIntegerField()),
                ("queryid", models.BigIntegerField()),
                ("toplevel", models.BooleanField()),
                ("reset_at", models.DateTimeField(blank=True, null=True)),
                ("calls", models.BigIntegerField()),
                ("rows", models.BigIntegerField()),
                ("total_exec_time", models.FloatField()),
                ("total_plan_time", models.FloatField()),
                ("shared_blks_hit", models.BigIntegerField()),
                ("shared_blks_read", models.BigIntegerField()),
                ("shared_blks_dirtied", models.BigIntegerField()),
                ("shared_blks_written", models.BigIntegerField()),
                ("temp_blks_read", models.BigIntegerField()),
                ("temp_blks_written", models.BigIntegerField()),
                ("blk_read_time", models.FloatField()),
                ("blk_write_time", models.FloatField()),
                ("wal_bytes", models.BigIntegerField()),
                (
                    "database",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="history.monitoreddatabase",
                    ),
                ),
                (
                    "statement",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="history.statementtext",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(
            read_sql("schema/statement_baseline_v1.sql"),
            read_sql("schema/statement_baseline_reverse_v1.sql"),
        ),
    ]
