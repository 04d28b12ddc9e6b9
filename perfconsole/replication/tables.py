"""The replication page's tables: standbys, slots, conflicts."""

from perfconsole.core.tables import (
    BytesColumn,
    ConsoleTable,
    NumberColumn,
    SecondsColumn,
    TextColumn,
    TimestampColumn,
    YesNoColumn,
)


class SenderTable(ConsoleTable):
    """The standbys a server sends WAL to (pg_stat_replication)."""

    class Meta(ConsoleTable.Meta):
        orderable = False
        empty_text = "This server sends WAL to no standby."

    application_name = TextColumn(verbose_name="standby (application name)")
    client = TextColumn(verbose_name="client")
    state = TextColumn(verbose_name="state")
    sync_state = TextColumn(verbose_name="sync state")
    write_lag_s = SecondsColumn(verbose_name="write lag")
    flush_lag_s = SecondsColumn(verbose_name="flush lag")
    replay_lag_s = SecondsColumn(verbose_name="replay lag")
    flush_behind_bytes = BytesColumn(verbose_name="flush behind")
    replay_behind_bytes = BytesColumn(verbose_name="replay behind")
    reply_time = TimestampColumn(verbose_name="last reply", relative=True)


class SlotTable(ConsoleTable):
    """Replication slots and the WAL each keeps (pg_replication_slots)."""

    class Meta(ConsoleTable.Meta):
        orderable = False
        empty_text = "This server has no replication slot."

    slot_name = TextColumn(verbose_name="slot")
    slot_type = TextColumn(verbose_name="type")
    database = TextColumn(verbose_name="database")
    active = YesNoColumn(verbose_name="active")
    retained_bytes = BytesColumn(verbose_name="WAL kept")
    wal_status = TextColumn(verbose_name="WAL status")
    safe_wal_size_bytes = BytesColumn(verbose_name="safe WAL size")
    inactive_since = TimestampColumn(verbose_name="inactive since", relative=True)


class ConflictTable(ConsoleTable):
    """Queries replay cancelled, per database (pg_stat_database_conflicts)."""

    class Meta(ConsoleTable.Meta):
        orderable = False
        empty_text = "No database."

    datname = TextColumn(verbose_name="database")
    confl_snapshot = NumberColumn(verbose_name="snapshot")
    confl_lock = NumberColumn(verbose_name="lock")
    confl_bufferpin = NumberColumn(verbose_name="buffer pin")
    confl_deadlock = NumberColumn(verbose_name="deadlock")
    confl_tablespace = NumberColumn(verbose_name="tablespace")
    confl_active_logicalslot = NumberColumn(verbose_name="logical slot (16+)")
