"""Time the dashboard over a week of one-minute history.

The history is written straight into the tables (one INSERT ... SELECT per
table over generate_series), for a monitored database of its own named
"bench-dashboard", rolled up and pruned as the schedules would, then timed
and deleted. The console's own history is not touched.
"""

import statistics
import time

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from perfconsole.history.dashboard_admin import (
    DASHBOARD_TEMPLATE,
    health_summary,
    window_data,
)
from perfconsole.history.models import MonitoredDatabase
from perfconsole.history.rollups import prune, rollup
from perfconsole.history.window_form import PRESETS

NAME = "bench-dashboard"
HISTORY_TABLES = ("history_counterdelta", "history_statementdelta")
# Per minute: the sources and how many of their objects changed.
COUNTER_ROWS = [
    ("collection", 1, "jsonb_build_object('ok', 1, 'seconds', 60)"),
    (
        "database",
        1,
        "jsonb_build_object('xact_commit', 500 + m % 97, 'xact_rollback', m % 3,"
        " 'blks_hit', 90000 + m % 1000, 'blks_read', 100 + m % 50,"
        " 'tup_inserted', 40, 'tup_updated', 20, 'tup_deleted', 5,"
        " 'temp_bytes', (m % 10) * 8192, 'blk_read_time', 3.5,"
        " 'blk_write_time', 1.25)",
    ),
    (
        "activity",
        1,
        "jsonb_build_object('state:active', 2, 'state:idle', 8,"
        " 'state:idle in transaction', m % 2, 'wait:Lock:relation', m % 2,"
        " 'wait:IO:DataFileRead', 1, 'wait:LWLock:WALWrite', m % 3)",
    ),
    ("io", 12, "jsonb_build_object('reads', 10 + k, 'evictions', k % 4)"),
    ("wal", 1, "jsonb_build_object('wal_bytes', 1048576 + m, 'wal_records', 900)"),
    ("checkpointer", 1, "jsonb_build_object('num_timed', (m % 5 = 0)::int)"),
    ("bgwriter", 1, "jsonb_build_object('checkpoints_timed', (m % 5 = 0)::int)"),
    ("table", 30, "jsonb_build_object('seq_scan', k % 3, 'idx_scan', 50 + k)"),
    ("index", 60, "jsonb_build_object('idx_scan', 20 + k, 'idx_tup_read', 40)"),
]


class Command(BaseCommand):
    help = "Time the dashboard with a week of one-minute history (written directly)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7)
        parser.add_argument("--statements", type=int, default=500)
        parser.add_argument("--active", type=int, default=100, help="per minute")
        parser.add_argument("--runs", type=int, default=5)

    def handle(self, *args, **options):
        now = timezone.now().replace(second=0, microsecond=0)
        database = self.fill(now, options)
        try:
            self.time_windows(database, options["runs"])
        finally:
            self.drop(database)

    def fill(self, now, options):
        """Write the history, roll it up and prune it as the schedules do."""
        MonitoredDatabase.objects.filter(name=NAME).delete()
        database = MonitoredDatabase.objects.create(name=NAME)
        minutes = options["days"] * 24 * 60
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            params = {"db": database.id, "now": now, "minutes": minutes}
            for source, keys, counters in COUNTER_ROWS:
                cursor.execute(
                    "INSERT INTO history_counterdelta (database_id, level,"
                    " period_start, source, key, counters, gauges)"
                    " SELECT %(db)s, 0, %(now)s - make_interval(mins => m),"
                    " %(source)s, 'k' || k, " + counters.replace("%", "%%") + ", NULL"
                    " FROM generate_series(0, %(minutes)s - 1) m,"
                    " generate_series(1, %(keys)s) k",
                    {**params, "source": source, "keys": keys},
                )
            cursor.execute(
                "INSERT INTO history_statementtext (database_id, dbid, userid,"
                " queryid, toplevel, query, first_seen)"
                " SELECT %(db)s, 1, 10, s, true, 'SELECT bench ' || s, %(now)s"
                " FROM generate_series(1, %(statements)s) s",
                {**params, "statements": options["statements"]},
            )
            cursor.execute(
                "INSERT INTO history_statementdelta (database_id, level,"
                " period_start, statement_id, calls, rows, total_exec_time,"
                " total_plan_time, shared_blks_hit, shared_blks_read,"
                " shared_blks_dirtied, shared_blks_written, temp_blks_read,"
                " temp_blks_written, blk_read_time, blk_write_time, wal_bytes)"
                " SELECT %(db)s, 0, %(now)s - make_interval(mins => m), t.id,"
                " 10 + t.id %% 7, 10, 1.5 * (1 + t.id %% 11), 0.1, 100, 2, 0, 0,"
                " 0, 0, 0, 0, 0"
                " FROM generate_series(0, %(minutes)s - 1) m"
                " CROSS JOIN LATERAL (SELECT id FROM history_statementtext"
                "   WHERE database_id = %(db)s ORDER BY (id + m) %% %(n)s"
                "   LIMIT %(active)s) t",
                {**params, "n": options["statements"], "active": options["active"]},
            )
            cursor.execute("ANALYZE history_counterdelta")
            cursor.execute("ANALYZE history_statementdelta")
        rollup(database, now)
        database.refresh_from_db()
        prune(database, now)
        database.refresh_from_db()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE history_counterdelta")
            cursor.execute("ANALYZE history_statementdelta")
        self.stdout.write(
            f"{options['days']} days of one-minute history written, rolled up"
            f" and pruned in {time.perf_counter() - started:.1f} s"
        )
        return database

    def time_windows(self, database, runs):
        """Print the median time of the dashboard's data and page per window."""
        request = RequestFactory().get("/")
        health = health_summary()  # cached, as a page after the first sees it
        for label, span in PRESETS.values():
            timings = []
            for _ in range(runs):
                end = timezone.now()
                start = end - span
                began = time.perf_counter()
                context = window_data(database, start, end)
                context.update(
                    health=health,
                    alerts={},
                    window_label=label,
                    start=start,
                    end=end,
                )
                render_to_string(DASHBOARD_TEMPLATE, context, request)
                timings.append((time.perf_counter() - began) * 1000)
            self.stdout.write(
                f"{label:>14}: median {statistics.median(timings):.0f} ms,"
                f" max {max(timings):.0f} ms over {runs} runs"
            )

    def drop(self, database):
        """Delete the bench database's rows, then the database."""
        with connection.cursor() as cursor:
            for table in (*HISTORY_TABLES, "history_statementtext"):
                cursor.execute(
                    f"DELETE FROM {table} WHERE database_id = %s", [database.id]
                )
        database.delete()
