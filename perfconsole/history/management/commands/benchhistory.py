"""Measure the statistics history: server time of a collection, bytes per day.

Run it on a test server, not a production one: with --statements it creates
tables history_bench_t* and runs that many distinct statement shapes before
each collection (every entry changes: the worst case), then drops them.
"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from perfconsole.history.collector import collect, console_database
from perfconsole.history.models import MonitoredDatabase
from perfconsole.history.removal import remove_database

TABLES = 100
AS_TARGET = "benchhistory-as-target"
SIZE_SQL = (
    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c"
    " WHERE c.relkind = 'r' AND c.relname LIKE 'history\\_%%'"
    " AND c.relname <> ALL(%s)"
    " AND c.relnamespace = 'public'::regnamespace"
)
# The baselines: one row per object, rewritten in place.
BASELINES = ["history_baseline", "history_statementbaseline"]
# The collector's own statements, as pg_stat_statements counts them.
SERVER_TIME_SQL = (
    "SELECT coalesce(sum(total_exec_time + total_plan_time), 0), "
    " coalesce(sum(calls), 0) FROM pg_stat_statements"
    " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND query ~ 'history_(baseline|counterdelta|statementdelta|statementtext"
    "|snapshot|monitoreddatabase)'"
)
# Entries pg_stat_statements evicted so far (its 1.9+ info view).
DEALLOC_SQL = "SELECT coalesce((SELECT dealloc FROM pg_stat_statements_info), 0)"


class Command(BaseCommand):
    help = (
        "Measure the statistics history on a test server: the server time of "
        "one collection and the bytes it stores, per collection and per day."
    )

    def add_arguments(self, parser):
        parser.add_argument("--statements", type=int, default=0)
        parser.add_argument(
            "--changing",
            type=int,
            default=None,
            help="statements run again before each collection (default: all)",
        )
        parser.add_argument("--collections", type=int, default=5)
        parser.add_argument(
            "--sleep", type=float, default=0, help="seconds between collections"
        )
        parser.add_argument(
            "--as-target",
            action="store_true",
            help="collect this database as another target is collected: read "
            "on a connection of its own and staged by COPY (a temporary "
            "monitored database, removed at the end)",
        )

    def handle(self, statements, changing, collections, sleep, as_target, **options):
        if not 0 <= statements <= 9000 or not 1 <= collections <= 1440:
            raise CommandError("--statements 0..9000, --collections 1..1440")
        shapes = self.create_shapes(statements) if statements else []
        database = self.as_target() if as_target else console_database()
        try:
            self.measure(database, shapes, collections, sleep, changing)
        finally:
            self.drop_shapes()
            if as_target:
                remove_database(database)

    def as_target(self):
        """Register this database as a target reached like any other."""
        params = connection.settings_dict
        MonitoredDatabase.objects.filter(name=AS_TARGET).delete()
        return MonitoredDatabase.objects.create(
            name=AS_TARGET,
            host=params["HOST"] or "127.0.0.1",
            port=int(params["PORT"]) if params["PORT"] else None,
            dbname=params["NAME"],
            user=params["USER"],
        )

    def create_shapes(self, count):
        """Create the tables; return count distinct statements (1..k columns)."""
        per_table = -(-count // TABLES)
        with connection.cursor() as cursor:
            for table in range(TABLES):
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS history_bench_t{table} (a int)"
                )
        return [
            f"SELECT {', '.join(['a'] * width)} FROM history_bench_t{table}"
            for width in range(1, per_table + 1)
            for table in range(TABLES)
        ][:count]

    def drop_shapes(self):
        with connection.cursor() as cursor:
            for table in range(TABLES):
                cursor.execute(f"DROP TABLE IF EXISTS history_bench_t{table}")

    def run_shapes(self, shapes):
        with connection.cursor() as cursor:
            for sql in shapes:
                cursor.execute(sql)

    def scalar(self, sql, params=None):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()

    def sizes(self):
        """Return (bytes of the history but its baselines, bytes of those).

        A baseline has one row per object, rewritten: it does not grow with
        time, so it is not part of bytes per day.
        """
        (history,) = self.scalar(SIZE_SQL, [BASELINES])
        (baseline,) = self.scalar(
            "SELECT sum(pg_total_relation_size(name::regclass))::bigint"
            " FROM unnest(%s::text[]) name",
            [BASELINES],
        )
        return history, baseline

    def measure(self, database, shapes, collections, sleep, changing=None):
        self.run_shapes(shapes)
        self.stdout.write(f"baseline: {collect(database).describe()}")
        before, _ = self.sizes()
        server_before, calls_before = self.scalar(SERVER_TIME_SQL)
        (dealloc_before,) = self.scalar(DEALLOC_SQL)
        wall, rows = [], []
        for _ in range(collections):
            if sleep:
                time.sleep(sleep)
            self.run_shapes(shapes[:changing])
            outcome = collect(database)
            self.stdout.write(outcome.describe())
            wall.append(outcome.snapshot.server_ms)
            rows.append(outcome.snapshot.rows_stored)
        after, baseline = self.sizes()
        server_after, calls_after = self.scalar(SERVER_TIME_SQL)
        (dealloc_after,) = self.scalar(DEALLOC_SQL)
        if dealloc_after > dealloc_before or server_after < server_before:
            # Evicted entries take their counted time with them.
            server_time = (
                "unknown: pg_stat_statements evicted"
                f" {dealloc_after - dealloc_before} times during the run (raise"
                " pg_stat_statements.max or reset it, and run again)"
            )
        else:
            server_time = (
                f"{(server_after - server_before) / collections:.1f}"
                f" ({(calls_after - calls_before) / collections:.0f} statements)"
            )
        per = (after - before) / collections
        self.stdout.write(
            f"collections: {collections}; statements: {len(shapes)}, run again"
            f" before each: {len(shapes[:changing])}\n"
            f"rows stored per collection: {sum(rows) / collections:.0f}\n"
            f"collection wall time (client, ms): mean {sum(wall) / len(wall):.1f},"
            f" max {max(wall):.1f}\n"
            "collector server time per collection (pg_stat_statements, ms):"
            f" {server_time}\n"
            f"history tables grew {after - before} bytes: {per:.0f} per collection,"
            f" {per * 1440 / 1e6:.1f} MB per day at one collection a minute;"
            f" baseline (bounded) {baseline} bytes"
        )
