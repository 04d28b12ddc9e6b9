"""Statistics history: interval deltas of PostgreSQL's cumulative statistics.

Every row belongs to a monitored database, so watching more servers later
adds rows, not tables. Deltas are stored at three levels (raw per collection,
hourly, daily); a level's rows are sums of the level below.
"""

from django.db import models


class Level(models.IntegerChoices):
    RAW = 0, "raw"
    HOURLY = 1, "hourly"
    DAILY = 2, "daily"


class MonitoredDatabase(models.Model):
    """A database whose statistics are collected: the console's own, or a target.

    A target is reached with libpq connection parameters. Its password is
    never stored here: it comes from libpq's password or service file, or
    from the environment variable named in password_env.
    """

    PRIMARY = "primary"
    STANDBY = "standby"
    ROLES = [(PRIMARY, "primary"), (STANDBY, "standby")]
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"
    STATUSES = [(UNKNOWN, "not checked yet"), (UP, "up"), (DOWN, "down")]

    name = models.CharField(max_length=200, unique=True)
    is_console_database = models.BooleanField(default=False)
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    dbname = models.CharField("database name", max_length=63, blank=True)
    user = models.CharField(max_length=63, blank=True)
    service = models.CharField(
        max_length=63, blank=True, help_text="a service of pg_service.conf"
    )
    sslmode = models.CharField(max_length=12, blank=True)
    password_env = models.CharField(
        "password environment variable",
        max_length=100,
        blank=True,
        help_text="the variable holding the password; leave empty to use "
        "libpq's password file or service file",
    )
    role = models.CharField(max_length=10, choices=ROLES, default=PRIMARY)
    primary = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="standbys",
        help_text="for a standby: the target it replicates",
    )
    enabled = models.BooleanField(default=True)
    collect_interval_s = models.PositiveIntegerField(
        "collection interval (seconds)", default=60
    )
    # What the last collection or connection test found.
    status = models.CharField(max_length=10, choices=STATUSES, default=UNKNOWN)
    status_reason = models.TextField(blank=True)
    status_since = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Raw rows before this instant are rolled into hours; hours into days.
    hourly_done_until = models.DateTimeField(null=True, blank=True)
    daily_done_until = models.DateTimeField(null=True, blank=True)
    # Relation sizes cost more to read: when they were last collected.
    sizes_taken_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [
            ("test_connection", "Can test a monitored database's connection")
        ]

    def __str__(self):
        return self.name


class Snapshot(models.Model):
    """One collection: when, over which interval, and what it could not read."""

    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"
    STATUSES = [(OK, "ok"), (PARTIAL, "partial"), (FAILED, "failed")]

    database = models.ForeignKey(MonitoredDatabase, on_delete=models.CASCADE)
    taken_at = models.DateTimeField()
    # Seconds since the previous successful collection; None for the first.
    interval_seconds = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=STATUSES)
    error = models.TextField(blank=True)
    # The sources this collection could not read (a gap in their charts).
    missing = models.JSONField(default=list, blank=True)
    # pg_stat_database.stats_reset and pg_stat_statements_info as seen.
    stats_reset = models.DateTimeField(null=True, blank=True)
    statements_reset = models.DateTimeField(null=True, blank=True)
    statements_dealloc = models.BigIntegerField(null=True, blank=True)
    rows_stored = models.IntegerField(default=0)
    server_ms = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["database", "taken_at"])]
        get_latest_by = "taken_at"

    def __str__(self):
        return f"{self.database} {self.taken_at:%Y-%m-%d %H:%M:%S} {self.status}"


def query_stat_id(queryid, userid, toplevel):
    """Return the id of a statement's row in monitoring's query_stats.

    It is the key of the statement's page: queryid.userid.toplevel (0 or 1),
    as the query_stats view builds it.
    """
    return f"{queryid}.{userid}.{int(toplevel)}"


class StatementText(models.Model):
    """A pg_stat_statements entry's identity and text, stored once."""

    database = models.ForeignKey(MonitoredDatabase, on_delete=models.CASCADE)
    dbid = models.BigIntegerField()
    userid = models.BigIntegerField()
    queryid = models.BigIntegerField()
    toplevel = models.BooleanField(default=True)
    query = models.TextField()
    first_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["database", "dbid", "userid", "queryid", "toplevel"],
                name="history_statement_identity",
            )
        ]

    def __str__(self):
        return f"{self.queryid}: {self.query[:60]}"


class StatementCounters(models.Model):
    """The pg_stat_statements counters the history keeps, one column each."""

    calls = models.BigIntegerField()
    rows = models.BigIntegerField()
    total_exec_time = models.FloatField()
    total_plan_time = models.FloatField()
    shared_blks_hit = models.BigIntegerField()
    shared_blks_read = models.BigIntegerField()
    shared_blks_dirtied = models.BigIntegerField()
    shared_blks_written = models.BigIntegerField()
    temp_blks_read = models.BigIntegerField()
    temp_blks_written = models.BigIntegerField()
    blk_read_time = models.FloatField()
    blk_write_time = models.FloatField()
    wal_bytes = models.BigIntegerField()

    class Meta:
        abstract = True


class StatementDelta(StatementCounters):
    """What one statement did in one period (a collection, an hour, a day).

    Only statements that ran in the period have a row. The history tables
    have no foreign-key constraints in the database (Django cascades the
    deletes): checking them costs two queries per stored row.
    """

    pk = models.CompositePrimaryKey("database", "level", "period_start", "statement")
    # The primary key's first column: no index of its own.
    database = models.ForeignKey(
        MonitoredDatabase,
        on_delete=models.CASCADE,
        db_index=False,
        db_constraint=False,
    )
    level = models.SmallIntegerField(choices=Level.choices)
    period_start = models.DateTimeField()
    # Indexed with level and period by Meta.indexes.
    statement = models.ForeignKey(
        StatementText,
        on_delete=models.CASCADE,
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        indexes = [models.Index(fields=["statement", "level", "period_start"])]

    def __str__(self):
        return f"{self.statement_id} {self.period_start:%Y-%m-%d %H:%M} {self.calls}"


class CounterDelta(models.Model):
    """What one statistics object did in one period, as JSON.

    source names the view (database, table, index, bgwriter, checkpointer,
    wal, io, activity, size, collection); key the object in it ("" for the
    database, schema.name for a relation, backend/object/context for I/O).
    counters holds the non-zero deltas, summed by the rollups; gauges the
    last values seen (live/dead rows, sizes), the latest kept by rollups.
    """

    pk = models.CompositePrimaryKey(
        "database", "level", "period_start", "source", "key"
    )
    # The primary key's first column: no index of its own.
    database = models.ForeignKey(
        MonitoredDatabase,
        on_delete=models.CASCADE,
        db_index=False,
        db_constraint=False,
    )
    level = models.SmallIntegerField(choices=Level.choices)
    period_start = models.DateTimeField()
    source = models.CharField(max_length=16)
    key = models.TextField()
    counters = models.JSONField(default=dict)
    gauges = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [
            # A relation's rows by key (history.relations): built concurrently
            # from sql/schema/relation_history_index_v1.sql by its migration.
            models.Index(
                fields=["database", "source", "key", "level", "period_start"],
                condition=models.Q(source__in=["table", "index", "size"]),
                name="history_relation_by_key",
            )
        ]

    def __str__(self):
        return f"{self.source} {self.key} {self.period_start:%Y-%m-%d %H:%M}"


class Baseline(models.Model):
    """The cumulative values last seen of one statistics object.

    The next collection subtracts them; a reset or an eviction replaces them.
    One row per object, so the storage does not grow with time.
    pg_stat_statements entries have their own table (StatementBaseline).
    """

    pk = models.CompositePrimaryKey("database", "source", "key")
    database = models.ForeignKey(
        MonitoredDatabase,
        on_delete=models.CASCADE,
        db_index=False,
        db_constraint=False,
    )
    source = models.CharField(max_length=16)
    key = models.TextField()
    reset_at = models.DateTimeField(null=True, blank=True)
    counters = models.JSONField(default=dict)
    gauges = models.JSONField(null=True, blank=True)

    def __str__(self):
        return f"{self.source} {self.key}"


class StatementBaseline(StatementCounters):
    """The cumulative counters last seen of one pg_stat_statements entry.

    Keyed by the entry's identity, so a collection joins the extension's
    entries to it directly; one column per counter, so a delta is a
    subtraction (JSON counters, built, compared and parsed back, took about
    half of a collection). One row per entry: rewritten in place, it does not
    grow with time.
    """

    pk = models.CompositePrimaryKey("database", "dbid", "userid", "queryid", "toplevel")
    database = models.ForeignKey(
        MonitoredDatabase,
        on_delete=models.CASCADE,
        db_index=False,
        db_constraint=False,
    )
    dbid = models.BigIntegerField()
    userid = models.BigIntegerField()
    queryid = models.BigIntegerField()
    toplevel = models.BooleanField()
    statement = models.ForeignKey(
        StatementText,
        on_delete=models.CASCADE,
        db_index=False,
        db_constraint=False,
    )
    reset_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.queryid} {self.calls}"


class WindowCompare(models.Model):
    """Hold the permission to compare two windows of the history in the admin.

    The comparison is computed from the stored deltas on every request, so no
    table backs this model.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_window_compare", "Can compare two windows")]
        verbose_name = "window comparison"
        verbose_name_plural = "compare two windows"

    def __str__(self):
        return "compare two windows"
