"""Unmanaged models over the statistics views (read-only).

Ratios are percentages (0-100), times milliseconds, sizes bytes. The views
are created by migrations from sql/views/ and re-created by syncstatviews.
"""

from django.db import models


class ProductStatements(models.Manager):
    """Statements without the console's tag: what the product runs."""

    def get_queryset(self):
        return super().get_queryset().filter(is_console=False)

    def with_console(self):
        """Return every statement, the console's own included."""
        return super().get_queryset()


class QueryStatBase(models.Model):
    """Columns shared by query_stats and slow_queries.

    `objects` leaves out the console's own statements (those with the
    console's tag, core.db.QUERY_TAG); `objects.with_console()` keeps them.
    """

    id = models.TextField(primary_key=True)
    queryid = models.BigIntegerField()
    userid = models.BigIntegerField()
    user_name = models.TextField()
    toplevel = models.BooleanField()
    query = models.TextField()
    calls = models.BigIntegerField()
    total_time_ms = models.FloatField("total time (ms)")
    exec_time_ms = models.FloatField("execution time (ms)")
    plan_time_ms = models.FloatField("planning time (ms)")
    mean_time_ms = models.FloatField("mean time (ms)")
    min_time_ms = models.FloatField("min time (ms)")
    max_time_ms = models.FloatField("max time (ms)")
    stddev_time_ms = models.FloatField("stddev time (ms)")
    rows = models.BigIntegerField()
    shared_blks_hit = models.BigIntegerField()
    shared_blks_read = models.BigIntegerField()
    cache_hit_ratio = models.FloatField("cache hit (%)", null=True)
    blk_read_time_ms = models.FloatField("block read time (ms)")
    blk_write_time_ms = models.FloatField("block write time (ms)")
    io_time_ms = models.FloatField("I/O time (ms)")
    temp_blks_written = models.BigIntegerField()
    wal_bytes = models.DecimalField(max_digits=30, decimal_places=0)
    share_of_total = models.FloatField("share of total time (%)", null=True)
    stats_since = models.DateTimeField(null=True)
    # NULL only in the placeholder view, which has no rows.
    is_console = models.BooleanField("the console's own", null=True)

    objects = ProductStatements()

    class Meta:
        abstract = True
        managed = False
        ordering = ["-total_time_ms"]

    def __str__(self):
        return f"query {self.queryid}"


class QueryStat(QueryStatBase):
    """A statement of this database from pg_stat_statements."""

    class Meta(QueryStatBase.Meta):
        managed = False
        db_table = "query_stats"
        verbose_name = "query statistic"
        # Planning runs functions any database user can write: its own right.
        # Resetting clears what other tools read too: its own right as well.
        permissions = [
            ("explain_querystat", "Can explain a monitored statement (plan only)"),
            ("reset_querystat", "Can reset this database's pg_stat_statements"),
        ]


class SlowQuery(QueryStatBase):
    """A statement whose mean time is one second or more (the seed's slow).

    The seed's definition is targets.SLOW_QUERY_MS (TARGETS.md).
    """

    class Meta(QueryStatBase.Meta):
        managed = False
        db_table = "slow_queries"
        verbose_name = "slow query"
        verbose_name_plural = "slow queries"


class IndexUsage(models.Model):
    """Usage of one index, with its table's index usage ratio."""

    indexrelid = models.BigIntegerField(primary_key=True)
    schema_name = models.TextField()
    table_name = models.TextField()
    index_name = models.TextField()
    table_relid = models.BigIntegerField()
    # None while another session locks the index or its table exclusively.
    index_size_bytes = models.BigIntegerField("size", null=True)
    idx_scan = models.BigIntegerField("scans")
    idx_tup_read = models.BigIntegerField("tuples read")
    idx_tup_fetch = models.BigIntegerField("tuples fetched")
    table_seq_scan = models.BigIntegerField("table seq scans")
    table_idx_scan = models.BigIntegerField("table index scans")
    index_usage_ratio = models.FloatField("table index usage (%)", null=True)
    is_unique = models.BooleanField("unique")
    is_primary = models.BooleanField("primary")
    is_valid = models.BooleanField("valid")
    definition = models.TextField(null=True)  # noqa: DJ001 - NULL when locked
    last_idx_scan = models.DateTimeField("last scan", null=True)
    # The pid holding (or awaiting) that lock; 0 for a prepared transaction.
    size_locked_by = models.IntegerField("size locked by", null=True)

    class Meta:
        managed = False
        db_table = "index_usage_stats"
        ordering = ["schema_name", "table_name", "index_name"]
        verbose_name = "index usage"
        verbose_name_plural = "index usage"

    def __str__(self):
        return f"{self.schema_name}.{self.index_name}"


class TablePerformance(models.Model):
    """Reads, writes, dead tuples, cache hits and sizes of one table."""

    relid = models.BigIntegerField(primary_key=True)
    schema_name = models.TextField()
    table_name = models.TextField()
    n_live_tup = models.BigIntegerField("live tuples")
    n_dead_tup = models.BigIntegerField("dead tuples")
    dead_ratio = models.FloatField("dead (%)", null=True)
    seq_scan = models.BigIntegerField("seq scans")
    seq_tup_read = models.BigIntegerField("tuples read by seq scans")
    idx_scan = models.BigIntegerField("index scans")
    idx_tup_fetch = models.BigIntegerField("tuples fetched by index")
    seq_scan_ratio = models.FloatField("seq scan (%)", null=True)
    index_usage_ratio = models.FloatField("index usage (%)", null=True)
    n_tup_ins = models.BigIntegerField("inserts")
    n_tup_upd = models.BigIntegerField("updates")
    n_tup_del = models.BigIntegerField("deletes")
    n_tup_hot_upd = models.BigIntegerField("HOT updates")
    n_mod_since_analyze = models.BigIntegerField("changed since analyze")
    heap_hit_ratio = models.FloatField("heap cache hit (%)", null=True)
    idx_hit_ratio = models.FloatField("index cache hit (%)", null=True)
    # Sizes are None while another session locks the table exclusively.
    table_size_bytes = models.BigIntegerField("table size", null=True)
    indexes_size_bytes = models.BigIntegerField("indexes size", null=True)
    toast_size_bytes = models.BigIntegerField("TOAST size", null=True)
    total_size_bytes = models.BigIntegerField("total size", null=True)
    last_vacuum = models.DateTimeField(null=True)
    last_autovacuum = models.DateTimeField(null=True)
    last_analyze = models.DateTimeField(null=True)
    last_autoanalyze = models.DateTimeField(null=True)
    vacuum_count = models.BigIntegerField()
    autovacuum_count = models.BigIntegerField()
    analyze_count = models.BigIntegerField()
    autoanalyze_count = models.BigIntegerField()
    last_seq_scan = models.DateTimeField(null=True)
    size_locked_by = models.IntegerField("size locked by", null=True)

    class Meta:
        managed = False
        db_table = "table_performance_stats"
        ordering = ["schema_name", "table_name"]
        verbose_name = "table performance"
        verbose_name_plural = "table performance"
        permissions = [
            ("reset_tablestat", "Can reset this database's table and index statistics")
        ]

    def __str__(self):
        return f"{self.schema_name}.{self.table_name}"


class SettingsReview(models.Model):
    """Holds the permission to view the settings review page (no table)."""

    class Meta:
        managed = False
        db_table = "monitoring_settings_review_unused"
        default_permissions = ()
        permissions = [("view_settings_review", "Can view the settings review")]
        verbose_name = "settings review"
        verbose_name_plural = "settings review"

    def __str__(self):
        return "settings review"
