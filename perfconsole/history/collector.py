"""Collect one snapshot of the statistics views as interval deltas.

One collection is one transaction with the console's timeouts and query tag.
Each source (pg_stat_statements, pg_stat_database, ...) is read and stored by
one statement in a savepoint: a source that cannot be read (a lock, a
timeout, a missing grant or extension) is named in the snapshot's `missing`,
the others are stored, and the next collection carries on from the last
baseline. A transaction-level advisory lock lets only one collection of a
database write at a time; a second one skips.

The console's own database is read inside the storing statements; a target
is read on its own connection and its rows staged on the console's
(readers.py): the same statements store both. What a target could not give
(its server down, a refused login, no pg_stat_statements, a missing grant,
a timeout) is the reason it is marked down (fleet.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction

from perfconsole.core.db import explain_database_error, limit_transaction, tag_sql
from perfconsole.core.sqlfiles import SqlFolder

from .connections import PasswordMissing
from .models import MonitoredDatabase, Snapshot
from .readers import (
    LocalReader,
    RemoteReader,
    SourceUnreadable,
    TargetUnreachable,
    connect_target,
)

logger = logging.getLogger(__name__)


def without_comments(read):
    """Wrap a SqlFolder reader to drop the files' comment lines.

    tag_sql puts the tag after the first keyword, which a leading comment
    hides; and pg_stat_statements would keep the comments in every text.
    """

    def load(name):
        lines = read(name).splitlines()
        return "\n".join(line for line in lines if not line.lstrip().startswith("--"))

    return load


load_current = without_comments(SqlFolder(__file__, "current").read)
load_collect = without_comments(SqlFolder(__file__, "collect").read)
# First key of the advisory lock: "history" in ASCII; the second is the
# monitored database's id.
LOCK_CLASS = 0x68697374


@dataclass
class Outcome:
    """What one collection did."""

    snapshot: Snapshot | None = None
    skipped: bool = False
    stored: dict[str, int] = field(default_factory=dict)
    # Why the database counts as down (None: up): the collection failed,
    # or the database could not give its statements.
    down_reason: str | None = None

    def describe(self):
        """Return one line for a command's output or a task's result."""
        if self.skipped:
            return "skipped: another collection of this database is running"
        snap = self.snapshot
        if snap is None:
            return "failed, and the failure could not be recorded (server gone?)"
        if snap.status == Snapshot.FAILED:
            return f"snapshot {snap.id} failed: {snap.error}"
        parts = [f"{source} {rows}" for source, rows in self.stored.items()]
        text = (
            f"snapshot {snap.id} {snap.status} at {snap.taken_at:%H:%M:%S}: "
            f"{snap.rows_stored} rows ({', '.join(parts) or 'none'}) "
            f"in {snap.server_ms:.1f} ms"
        )
        if snap.missing:
            text += f"; missing {', '.join(snap.missing)}: {snap.error}"
        return text


def console_database():
    """Return the console's own monitored database (created by a migration)."""
    database = MonitoredDatabase.objects.filter(is_console_database=True).first()
    if database is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            (name,) = cursor.fetchone()
        database, _ = MonitoredDatabase.objects.get_or_create(
            name=name, defaults={"is_console_database": True}
        )
    return database


def statements_sql(status, database=None, reader=None):
    """Return the pg_stat_statements storing statement for the extension.

    With a reader of a target, the entries (and new entries' texts) are
    staged first and the statement reads them there.
    """
    version = status.version_tuple
    if version >= (1, 11):
        name = "statements_v2_pgss_1_11.sql"
    elif version >= (1, 9):
        name = "statements_v2_pgss_1_9.sql"
    else:
        name = "statements_v2_pgss_1_8.sql"
    schema = '"{}"'.format(status.schema.replace('"', '""'))
    current = load_current(name).replace("{schema}", schema)
    # Without texts every minute; with texts only for new entries.
    live = current.replace("{source}", f"{schema}.pg_stat_statements(false)")
    texts = current.replace("{source}", f"{schema}.pg_stat_statements(true)")
    if reader is not None:
        live, texts = reader.statement_sources(database, live, texts)
    template = load_collect("statements_v2.sql")
    return template.replace("{current}", live).replace("{texts}", texts)


def counters_sql(current):
    """Return the storing statement of one generic source."""
    return load_collect("counters_v1.sql").replace("{current}", current)


# Steps that repair the console's own views: nothing to run for a target.
CONSOLE_ONLY_STEP = "python manage.py syncstatviews"


def server_sources(server_version):
    """Return (source, current SQL) of the server-wide views this server has."""
    server = load_current("server_v1.sql")
    sources = [("bgwriter", server.replace("{view}", "pg_stat_bgwriter"))]
    if server_version >= 170000:
        sources.append(
            ("checkpointer", server.replace("{view}", "pg_stat_checkpointer"))
        )
    sources.append(("wal", server.replace("{view}", "pg_stat_wal")))
    if server_version >= 160000:
        sources.append(("io", load_current("io_v1.sql")))
    return sources


class Collection:
    """One collection of one database, inside one transaction."""

    def __init__(self, database, cursor, taken_at, reader):
        self.database = database
        self.cursor = cursor
        self.taken_at = taken_at
        self.reader = reader
        self.stored: dict[str, int] = {}
        self.missing: list[str] = []
        self.errors: list[str] = []
        # Sources the database itself could not give (not the console's
        # faults, such as a lock on the history's tables), with the reason.
        self.unreadable: dict[str, str] = {}
        self.info_view = ""

    def params(self, source):
        return {
            "database": self.database.id,
            "taken_at": self.taken_at,
            "source": source,
        }

    def run(self, source, template, current=None):
        """Store one source in a savepoint; note a failure.

        template is the storing statement; current, the reading its
        placeholder stands for, given to the reader (run here or staged).
        """
        try:
            with transaction.atomic():
                sql = template
                if current is not None:
                    sql = template.replace(
                        "{current}", self.reader.current(source, current)
                    )
                self.cursor.execute(tag_sql(sql), self.params(source))
                row = self.cursor.fetchone() if self.cursor.description else None
        except SourceUnreadable as error:
            self.lack(source, str(error), unreadable=True)
            return False
        except DatabaseError as error:
            self.lack(source, explain_database_error(error))
            return False
        self.stored[source] = row[0] if row else self.cursor.rowcount
        return True

    def run_counters(self, source, current):
        """Store one generic source (key, reset_at, counters, gauges)."""
        return self.run(source, load_collect("counters_v1.sql"), current)

    def lack(self, source, reason, unreadable=False):
        """Record that a source could not be read in this collection."""
        self.missing.append(source)
        self.errors.append(f"{source}: {reason}")
        if unreadable:
            self.unreadable[source] = reason

    def statements(self):
        """Store pg_stat_statements (and its info view) when it is usable."""
        try:
            with transaction.atomic():
                status = self.reader.statements_status()
            if not status.usable:
                self.lack("statement", self.unusable_reason(status), unreadable=True)
                return
            with transaction.atomic():
                sql = statements_sql(status, self.database, self.reader)
        except SourceUnreadable as error:
            self.lack("statement", str(error), unreadable=True)
            return
        except DatabaseError as error:
            self.lack("statement", explain_database_error(error))
            return
        self.run("statement", sql)
        if status.version_tuple >= (1, 9):
            schema = '"{}"'.format(status.schema.replace('"', '""'))
            info = load_current("statements_info_v1.sql").replace("{schema}", schema)
            self.info_view = f"{schema}.pg_stat_statements_info"
            self.run_counters("statements_info", info)

    def unusable_reason(self, status):
        """Say why pg_stat_statements cannot be read here, and how to fix it."""
        reason = status.error or "pg_stat_statements is not usable"
        steps = status.steps
        if self.reader.remote:
            steps = [step for step in steps if not step.startswith(CONSOLE_ONLY_STEP)]
        return f"{reason} ({'; '.join(steps)})" if steps else reason

    def all_sources(self, with_sizes):
        """Read and store every source."""
        self.statements()
        for source in ("database", "table", "index"):
            self.run_counters(source, load_current(f"{source}_v1.sql"))
        for source, current in server_sources(self.reader.server_version):
            self.run_counters(source, current)
        if with_sizes:
            if not self.run_counters("size", load_current("size_v1.sql")):
                with_sizes = False
        self.run(
            "activity",
            load_collect("activity_v2.sql"),
            load_current("activity_v1.sql"),
        )
        self.run(
            "replication",
            load_collect("replication_v1.sql"),
            load_current("replication_v1.sql"),
        )
        return with_sizes

    def down_reason(self):
        """Return why the database counts as down, or None.

        Without its statements the console has nothing to show of it;
        other sources missing (sizes behind a lock) leave it up.
        """
        return self.unreadable.get("statement")


def previous_snapshot(database):
    """Return the last collection that stored anything, or None."""
    return (
        Snapshot.objects.filter(database=database)
        .exclude(status=Snapshot.FAILED)
        .order_by("-taken_at")
        .first()
    )


def sizes_due(database, taken_at):
    """Return True when relation sizes should be read in this collection."""
    every = timedelta(seconds=settings.STATS_SIZES_INTERVAL_SECONDS)
    return database.sizes_taken_at is None or taken_at - database.sizes_taken_at >= (
        every - timedelta(seconds=30)
    )


def collect(database=None):
    """Take one snapshot of a monitored database; return an Outcome.

    A failure of the whole transaction (the server gone, a timeout on the
    lock, a target that cannot be reached) is recorded as a failed snapshot
    in a transaction of its own.
    """
    reconnect_if_broken()
    started = time.perf_counter()
    try:
        database = database or console_database()
        return _collect(database, started)
    except (PasswordMissing, TargetUnreachable) as error:
        return failed(database, str(error), started, down=True)
    except DatabaseError as error:
        # On the console's connection: the target is not to blame, unless
        # it is the console's own database.
        down = database is None or database.is_console_database
        return failed(database, explain_database_error(error), started, down)


def failed(database, reason, started, down):
    """Log and record a failed collection; return its Outcome."""
    name = database.name if database else "the console's database"
    logger.warning("Statistics collection of %s failed: %s", name, reason)
    outcome = record_failure(database, reason, started)
    outcome.down_reason = reason if down else None
    return outcome


def reconnect_if_broken():
    """Drop a connection an error broke (a restarted server, a killed backend).

    A long-lived worker would otherwise fail every later collection on it.
    """
    # Not close_if_unusable_or_obsolete(): it also closes a healthy
    # connection past CONN_MAX_AGE, which a command or a task may still use.
    if (
        connection.connection is not None
        and not connection.in_atomic_block
        and connection.errors_occurred
        and not connection.is_usable()
    ):
        connection.close()


def _collect(database, started):
    alias = None if database.is_console_database else connect_target(database)
    try:
        return _collect_in_transaction(database, alias, started)
    finally:
        if alias is not None:
            connections[alias].close()


def _collect_in_transaction(database, alias, started):
    with transaction.atomic(), connection.cursor() as cursor:
        limit_transaction(cursor, read_only=False)
        plan_for_whole_sets(cursor)
        cursor.execute(
            tag_sql("SELECT pg_try_advisory_xact_lock(%s, %s), now()"),
            [LOCK_CLASS, database.id],
        )
        locked, taken_at = cursor.fetchone()
        if not locked:
            return Outcome(skipped=True)
        # Re-read under the lock: another collection may just have finished.
        database.refresh_from_db()
        previous = previous_snapshot(database)
        if alias is None:
            collection = Collection(database, cursor, taken_at, LocalReader(cursor))
            snapshot = store_all(collection, previous, started)
        else:
            with RemoteReader(database, alias, cursor) as reader:
                collection = Collection(database, cursor, taken_at, reader)
                snapshot = store_all(collection, previous, started)
    return Outcome(
        snapshot=snapshot,
        stored=collection.stored,
        down_reason=collection.down_reason(),
    )


def store_all(collection, previous, started):
    """Store every source of a collection and its snapshot; return the snapshot."""
    database, taken_at = collection.database, collection.taken_at
    with_sizes = collection.all_sources(sizes_due(database, taken_at))
    if with_sizes:
        database.sizes_taken_at = taken_at
        database.save(update_fields=["sizes_taken_at"])
    return save_snapshot(collection, previous, started)


def plan_for_whole_sets(cursor):
    """Plan the rest of the transaction with hash joins, not nested loops.

    Every statement of a collection joins whole sets: thousands of entries
    with their baseline, their texts, their deltas. Before PostgreSQL 17 the
    planner does not carry a CTE's row count into the query that reads it
    and, expecting a few rows, joins them in nested loops: 5 000 new entries
    with their texts took 25 million comparisons, past the statement
    timeout, so on a busy server the first collection never finished.

    JIT goes off with them. Before PostgreSQL 18 a disabled plan node adds
    10^10 to the plan's cost, far past jit_above_cost, and a server with JIT
    (Debian's 15 ships it) then compiled every large statement of the
    collection: about 1 s of CPU for each of the largest.
    """
    cursor.execute(
        tag_sql(
            "SELECT set_config('enable_nestloop', 'off', true),"
            " set_config('jit', 'off', true)"
        )
    )


def save_snapshot(collection, previous, started):
    """Save the snapshot row and its "collection" counters (ok, seconds)."""
    interval = (
        (collection.taken_at - previous.taken_at).total_seconds() if previous else None
    )
    status = Snapshot.PARTIAL if collection.missing else Snapshot.OK
    # Rollups sum these: a period whose collections all missed a source is
    # a gap in that source's chart, not a zero.
    counters = {"ok": 1}
    counters.update({f"missing:{source}": 1 for source in collection.missing})
    if interval:
        counters["seconds"] = interval
    reset, dealloc = statements_info(collection)
    snapshot = Snapshot.objects.create(
        database=collection.database,
        taken_at=collection.taken_at,
        interval_seconds=interval,
        status=status,
        error="\n".join(collection.errors),
        missing=collection.missing,
        stats_reset=database_stats_reset(collection.reader),
        statements_reset=reset,
        statements_dealloc=dealloc,
        rows_stored=sum(collection.stored.values()),
        server_ms=(time.perf_counter() - started) * 1000,
    )
    store_collection_row(collection.database, collection.taken_at, counters)
    return snapshot


def statements_info(collection):
    """Return (stats_reset, dealloc) of pg_stat_statements_info, or Nones."""
    if "statements_info" not in collection.stored:
        return None, None
    try:
        with transaction.atomic():
            return collection.reader.fetch_one(
                f"SELECT stats_reset, dealloc FROM {collection.info_view}"
            )
    except (DatabaseError, SourceUnreadable):
        return None, None


def database_stats_reset(reader):
    """Return pg_stat_database.stats_reset of the database, or None."""
    try:
        with transaction.atomic():
            row = reader.fetch_one(
                "SELECT stats_reset FROM pg_stat_database"
                " WHERE datname = current_database()"
            )
    except SourceUnreadable:
        return None
    return row[0] if row else None


def store_collection_row(database, taken_at, counters):
    """Store the collection's own row, which rollups count (ok, failed)."""
    from .models import CounterDelta, Level

    CounterDelta.objects.create(
        database=database,
        level=Level.RAW,
        period_start=taken_at,
        source="collection",
        key="",
        counters=counters,
    )


def record_failure(database, reason, started):
    """Record a collection that stored nothing, so charts show a gap."""
    from django.utils import timezone

    taken_at = timezone.now()
    try:
        reconnect_if_broken()
        database = database or console_database()
        with transaction.atomic(), connection.cursor() as cursor:
            # A lock on the history's tables must not hang the failure path.
            limit_transaction(cursor, read_only=False)
            snapshot = Snapshot.objects.create(
                database=database,
                taken_at=taken_at,
                status=Snapshot.FAILED,
                error=reason,
                missing=["all"],
                server_ms=(time.perf_counter() - started) * 1000,
            )
            store_collection_row(database, taken_at, {"failed": 1})
    except DatabaseError as error:
        # The server is gone: nothing can be recorded; the next run carries on.
        logger.warning("Could not record the failed collection: %s", error)
        return Outcome(snapshot=None)
    return Outcome(snapshot=snapshot)
