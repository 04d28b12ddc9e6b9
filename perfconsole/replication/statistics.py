"""Replication from both sides, read live from one server through `using`.

On a primary (or a standby sending WAL on): the standbys it sends to
(pg_stat_replication) and its replication slots with the WAL they keep. On
a standby: what it received and replayed, the replay delay, whether replay
is paused, and the queries replay cancelled (pg_stat_database_conflicts).
Every read goes through core.db.fetch_dicts: tagged, read-only, with the
monitoring timeouts, its errors as StatisticsUnavailable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from perfconsole.core.db import StatisticsUnavailable, fetch_dicts
from perfconsole.core.sqlfiles import SqlFolder

read_sql = SqlFolder(__file__, "read").read

# The pause states of pg_get_wal_replay_pause_state() that stop replay.
PAUSED_STATES = ("pause requested", "paused")


def senders(using="default"):
    """Return the standbys this server sends WAL to, with their lag."""
    return fetch_dicts(read_sql("senders_v1.sql"), using=using)


def slots(using="default"):
    """Return the replication slots of this server and the WAL each keeps."""
    return fetch_dicts(read_sql("slots_v1.sql"), using=using)


def receiver(using="default"):
    """Return this server's standby side: positions, delay, pause, sender."""
    return fetch_dicts(read_sql("receiver_v1.sql"), using=using)[0]


def conflicts(using="default"):
    """Return the queries replay cancelled on this server, per database."""
    return fetch_dicts(read_sql("conflicts_v1.sql"), using=using)


def is_paused(receiver_row):
    """Return True when replay is paused or about to pause."""
    return receiver_row.get("replay_pause_state") in PAUSED_STATES


@dataclass
class ServerReplication:
    """Both sides of one server's replication, and what could not be read."""

    receiver: dict | None = None
    senders: list = field(default_factory=list)
    slots: list = field(default_factory=list)
    conflicts: list = field(default_factory=list)
    errors: dict = field(default_factory=dict)

    @property
    def is_standby(self):
        return bool(self.receiver and self.receiver["in_recovery"])


def server_replication(using="default"):
    """Read every part of a server's replication; an unreadable part is named.

    The standby side is read first: a server that cannot be reached at all
    fails there, and its error is then the only one.
    """
    result = ServerReplication()
    try:
        result.receiver = receiver(using)
    except StatisticsUnavailable as error:
        result.errors["server"] = str(error)
        return result
    parts = {"senders": senders, "slots": slots, "conflicts": conflicts}
    for name, read in parts.items():
        try:
            setattr(result, name, read(using))
        except StatisticsUnavailable as error:
            result.errors[name] = str(error)
    return result
