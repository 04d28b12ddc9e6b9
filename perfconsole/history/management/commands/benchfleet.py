"""Measure collection across many targets: throughput and delay per worker count.

benchfleet starts a scratch PostgreSQL server of its own (a temporary
directory, a free port), creates --targets databases on it, each with
--statements statement shapes of its own, and registers them as monitored
databases "benchfleet-NN". For each worker count it starts a django-q2
cluster of that many workers on a queue of its own (no scheduler: only
this run's tasks), runs every shape on every target (each entry changes:
the worst case), runs the dispatcher once, and waits until every target has
a new snapshot. The delay of a target is from that dispatch (when all became
due) to the end of its collection. --silent adds targets whose server
accepts connections and never answers (a listening socket of this process):
each holds one worker for the 5 s connect timeout, and the figures say what
that does to the others. Everything it created is removed at the
end: the targets with their history, the tasks' results, the server.
"""

from __future__ import annotations

import os
import socket
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils import timezone

from perfconsole.core.db import raw_connection
from perfconsole.core.timing import load_average, percentile
from perfconsole.embedded import EmbeddedServer
from perfconsole.embedded.server import SUPERUSER, _free_port
from perfconsole.history.dispatch import dispatch
from perfconsole.history.models import MonitoredDatabase, Snapshot
from perfconsole.history.removal import remove_database

PREFIX = "benchfleet-"
SILENT = f"{PREFIX}silent-"
# Far from the suite's servers and the tests' scratch servers.
FIRST_PORT = 55800
WAIT_SECONDS = 300


class Command(BaseCommand):
    help = (
        "Measure the statistics collection of many targets: how many targets "
        "one worker collects per minute, and the delay from due to done with "
        "1, 2, 4 ... task workers. Starts and removes a scratch server, its "
        "databases and their monitored-database rows."
    )

    def add_arguments(self, parser):
        parser.add_argument("--targets", type=int, default=50)
        parser.add_argument(
            "--workers",
            default="1,2,4",
            help="comma-separated worker counts, one round each (default 1,2,4)",
        )
        parser.add_argument(
            "--silent",
            type=int,
            default=0,
            help="more targets whose server accepts connections and never "
            "answers: each holds a worker for the connect timeout",
        )
        parser.add_argument(
            "--statements",
            type=int,
            default=100,
            help="statement shapes per target, all run before each round",
        )

    def handle(self, targets, silent, workers, statements, **options):
        counts = self.worker_counts(workers)
        if not 1 <= targets <= 200:
            raise CommandError("--targets must be 1..200")
        if not 0 <= silent <= 20:
            raise CommandError("--silent must be 0..20")
        if not 1 <= statements <= 150:
            raise CommandError("--statements must be 1..150")
        if MonitoredDatabase.objects.filter(name__startswith=PREFIX).exists():
            raise CommandError(
                f"Monitored databases named {PREFIX}* exist: another benchfleet "
                "runs, or one was interrupted (delete them in the admin)."
            )
        pools = self.without_pool()
        try:
            self.measure(targets, silent, counts, statements)
        finally:
            for wrapper in connections.all():
                wrapper.close()
                if wrapper.alias in pools:
                    wrapper.settings_dict["OPTIONS"]["pool"] = pools[wrapper.alias]

    def measure(self, targets, silent, counts, statements):
        """Start the server and the targets, measure each round, remove all."""
        with (
            tempfile.TemporaryDirectory(prefix="benchfleet-") as directory,
            socket.socket() as listener,
        ):
            server = EmbeddedServer(
                Path(directory) / "pgdata",
                bin_dir=os.environ.get("EMBEDDED_PG_BIN"),
                port=_free_port(FIRST_PORT),
            )
            # Accepts connections (the kernel does) and never answers.
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            try:
                server.ensure_running()
                names = self.create_databases(server, targets, statements)
                fleet = self.register(server, names)
                self.first_round(fleet, server, names, statements)
                self.register_silent(silent, listener.getsockname()[1])
                results = [
                    self.round(fleet, server, names, statements, count)
                    for count in counts
                ]
                self.report(targets, silent, statements, results)
            finally:
                self.remove_targets()
                server.stop()

    def register_silent(self, count, port):
        """Create targets whose server accepts and never answers."""
        MonitoredDatabase.objects.bulk_create(
            MonitoredDatabase(
                name=f"{SILENT}{number:02d}",
                host="127.0.0.1",
                port=port,
                dbname="silent",
                user=SUPERUSER,
                collect_interval_s=1,
            )
            for number in range(1, count + 1)
        )

    def without_pool(self):
        """Use plain connections, as qcluster does (settings: no pool there).

        The cluster's processes are forked from this one: a pool's
        connections would be shared by parent and children. Return the pool
        options taken out, by alias, to put back at the end.
        """
        pools = {}
        for wrapper in connections.all():
            wrapper.close()
            if hasattr(wrapper, "close_pool"):
                wrapper.close_pool()
            pool = wrapper.settings_dict["OPTIONS"].pop("pool", None)
            if pool:
                pools[wrapper.alias] = pool
        return pools

    def worker_counts(self, text):
        try:
            counts = [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise CommandError(
                "--workers: comma-separated numbers, e.g. 1,2,4"
            ) from None
        if not counts or not all(1 <= count <= 16 for count in counts):
            raise CommandError("--workers: each count 1..16")
        return counts

    def create_databases(self, server, targets, statements):
        """Create the target databases, each with its own table."""
        names = [f"fleet_{number:03d}" for number in range(1, targets + 1)]
        with raw_connection({"conninfo": server.url("postgres")}) as conn:
            for name in names:
                # template1 has pg_stat_statements on the embedded server.
                conn.execute(f"CREATE DATABASE {name}")
        for name in names:
            with raw_connection({"conninfo": server.url(name)}) as conn:
                columns = ", ".join(f"c{i} int" for i in range(statements))
                conn.execute(f"CREATE TABLE fleet_probe (id int, {columns})")
                conn.execute(
                    "INSERT INTO fleet_probe (id) SELECT generate_series(1, 100)"
                )
        return names

    def register(self, server, names):
        """Create one monitored database per target database."""
        MonitoredDatabase.objects.bulk_create(
            MonitoredDatabase(
                name=f"{PREFIX}{name}",
                host="127.0.0.1",
                port=server.planned_port(),
                dbname=name,
                user=SUPERUSER,
                # Every round makes them all due at once.
                collect_interval_s=1,
            )
            for name in names
        )
        return MonitoredDatabase.objects.filter(name__startswith=PREFIX)

    def run_workload(self, server, names, statements):
        """Run every shape once on every target: each of its entries changes."""
        for name in names:
            with raw_connection({"conninfo": server.url(name)}) as conn:
                for column in range(statements):
                    conn.execute(f"SELECT count(c{column}) FROM fleet_probe")
                conn.execute("SELECT pg_stat_force_next_flush()")

    def first_round(self, fleet, server, names, statements):
        """Collect every target once in this process: baselines and texts."""
        self.run_workload(server, names, statements)
        started = time.perf_counter()
        dispatch(sync=True, databases=fleet)
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"first collection (texts, baselines) of {len(names)} targets in "
            f"this process: {seconds:.1f} s; load average {load_average()}"
        )

    def round(self, fleet, server, names, statements, workers):
        """Collect every target with a cluster of N workers; return figures."""
        from django_q.brokers import get_broker
        from django_q.cluster import Cluster
        from django_q.conf import Conf

        self.run_workload(server, names, statements)
        # Every target's last collection is then past its 1 s interval.
        time.sleep(1)
        broker = get_broker(f"benchfleet-{os.getpid()}-{workers}")
        saved = Conf.WORKERS, Conf.SCHEDULER
        Conf.WORKERS, Conf.SCHEDULER = workers, False
        # The cluster's processes are forked: no connection may be shared.
        connections.close_all()
        cluster = Cluster(broker)
        try:
            cluster.start()
            due = timezone.now()
            started = time.perf_counter()
            lines = dispatch(now=due, broker=broker, databases=fleet)
            dispatched = time.perf_counter() - started
            queued = lines.count(": queued")
            snapshots = self.wait_for(fleet, due, queued)
        finally:
            cluster.stop()
            Conf.WORKERS, Conf.SCHEDULER = saved
            broker.purge_queue()
        figures = self.figures(snapshots, due)
        figures.update(
            workers=workers,
            queued=queued,
            dispatch_ms=dispatched * 1000,
            load=load_average(),
        )
        self.describe(figures)
        return figures

    def figures(self, snapshots, due):
        """Return the delays of the answering targets and of the silent ones."""
        silent = [s for s in snapshots if s.database.name.startswith(SILENT)]
        answering = [s for s in snapshots if s not in silent]
        delays = sorted(
            (
                s.taken_at + timedelta(milliseconds=s.server_ms or 0) - due
            ).total_seconds()
            for s in answering
        )
        span = delays[-1] if delays else float("nan")
        return {
            "collected": len(answering),
            "failed": sum(s.status == Snapshot.FAILED for s in answering),
            "silent": len(silent),
            "silent_failed": sum(s.status == Snapshot.FAILED for s in silent),
            "collection_ms": statistics.mean(s.server_ms or 0 for s in answering),
            "median": statistics.median(delays),
            "p95": percentile(delays, 0.95),
            "max": span,
            "per_minute": len(answering) / span * 60,
        }

    def describe(self, r):
        """Print one round's figures."""
        silent = (
            f"; {r['silent']} silent targets collected ({r['silent_failed']} "
            "failed, as they must)"
            if r["silent"]
            else ""
        )
        self.stdout.write(
            f"{r['workers']} worker(s): {r['queued']} targets queued, "
            f"{r['collected']} answering ones collected ({r['failed']} failed) "
            f"in {r['max']:.1f} s; delay from due to done median "
            f"{r['median']:.1f} s, p95 {r['p95']:.1f} s, max {r['max']:.1f} s; "
            f"{r['per_minute']:.0f} targets per minute "
            f"({r['per_minute'] / r['workers']:.0f} per worker); one collection "
            f"{r['collection_ms']:.0f} ms on average; dispatch "
            f"{r['dispatch_ms']:.0f} ms{silent}; load average {r['load']}"
        )

    def wait_for(self, fleet, due, count):
        """Wait until every target has a snapshot taken after due; return them."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            snapshots = list(
                Snapshot.objects.filter(
                    database__in=fleet, taken_at__gte=due
                ).select_related("database")
            )
            if len(snapshots) >= count or time.monotonic() > deadline:
                return snapshots
            time.sleep(0.2)

    def report(self, targets, silent, statements, results):
        """Print the summary table (Markdown, for BENCHMARKS.md)."""
        also = f" and {silent} silent targets" if silent else ""
        self.stdout.write(
            f"\n{targets} targets{also}, {statements} statements each, all "
            "changed before each round; delays of the answering targets\n\n"
            "| workers | collected | delay median | delay p95 | delay max "
            "| targets / min | per worker / min | one collection | load average |\n"
            "|---|---|---|---|---|---|---|---|---|"
        )
        for r in results:
            self.stdout.write(
                f"| {r['workers']} | {r['collected']} ({r['failed']} failed) "
                f"| {r['median']:.1f} s | {r['p95']:.1f} s | {r['max']:.1f} s "
                f"| {r['per_minute']:.0f} | {r['per_minute'] / r['workers']:.0f} "
                f"| {r['collection_ms']:.0f} ms | {r['load']} |"
            )

    def remove_targets(self):
        """Remove the targets with their history and their tasks' results."""
        from django_q.models import Task

        connections.close_all()
        for database in MonitoredDatabase.objects.filter(name__startswith=PREFIX):
            remove_database(database)
        Task.objects.filter(name__startswith=f"collect {PREFIX}").delete()
