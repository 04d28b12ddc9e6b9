"""Compare the server's settings with the seed's and with PGTune's formulas.

The seed's values come from its "PostgreSQL Performance Settings" (the seed
report, TARGETS.md); computed
values follow PGTune (le0pard/pgtune) for a web application on SSD storage,
from the server's memory and CPU count.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connections, transaction

from perfconsole.core.db import reading_statistics, tag_sql

KB = 1024
MB = 1024 * KB
GB = 1024 * MB

# (name, category, the seed's value)
SEED_SETTINGS = [
    ("max_connections", "connections", "200"),
    ("shared_buffers", "memory", "256MB"),
    ("effective_cache_size", "memory", "1GB"),
    ("work_mem", "memory", "4MB"),
    ("maintenance_work_mem", "memory", "64MB"),
    ("huge_pages", "memory", None),
    ("random_page_cost", "planner", "1.1"),
    ("effective_io_concurrency", "planner", "200"),
    ("default_statistics_target", "planner", "100"),
    ("jit", "planner", None),
    ("checkpoint_completion_target", "WAL", "0.9"),
    ("wal_buffers", "WAL", "16MB"),
    ("min_wal_size", "WAL", None),
    ("max_wal_size", "WAL", None),
    ("max_worker_processes", "parallel", None),
    ("max_parallel_workers_per_gather", "parallel", None),
    ("max_parallel_workers", "parallel", None),
    ("max_parallel_maintenance_workers", "parallel", None),
    ("log_min_duration_statement", "logging", "1000"),
    ("log_checkpoints", "logging", "on"),
    ("log_connections", "logging", "on"),
    ("log_lock_waits", "logging", "on"),
    ("autovacuum_max_workers", "autovacuum", "3"),
    ("autovacuum_naptime", "autovacuum", "20s"),
]

MEMORY_UNITS = {"B": 1, "kB": KB, "MB": MB, "GB": GB, "TB": 1024 * GB}
TIME_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000}
TIME_UNITS["d"] = 24 * TIME_UNITS["h"]
UNIT_VALUE = re.compile(r"^\s*(-?[\d.]+)\s*([a-zA-Z]*)\s*$")


@dataclass
class SettingRow:
    """One setting: its value now, the seed's, PGTune's, and whether they differ."""

    name: str
    category: str
    current: str
    unit: str | None
    seed_recommended: str | None
    computed: str | None
    differs_from_seed: bool
    differs_from_computed: bool
    pending_restart: bool
    context: str

    @property
    def differs(self):
        """Return True when the value is off the computed (else seed) value."""
        if self.computed is not None:
            return self.differs_from_computed
        return self.differs_from_seed


@dataclass
class Machine:
    """The server's memory and CPU count, and where they came from."""

    ram_bytes: int | None
    cpus: int | None
    source: str


def to_base(value, unit):
    """Return a value in bytes (memory) or milliseconds (time), else as given.

    unit is pg_settings.unit ("8kB", "ms", ...) for raw settings, or None
    for text such as "256MB" or "20s".
    """
    text = str(value).strip()
    match = UNIT_VALUE.match(text)
    if not match:
        return text.lower()
    number, suffix = float(match.group(1)), match.group(2)
    if unit and not suffix:
        unit_match = UNIT_VALUE.match(unit) if unit[0].isdigit() else None
        multiplier, suffix = (
            (float(unit_match.group(1)), unit_match.group(2))
            if unit_match
            else (1, unit)
        )
        number *= multiplier
    if suffix in MEMORY_UNITS:
        return number * MEMORY_UNITS[suffix]
    if suffix in TIME_UNITS:
        return number * TIME_UNITS[suffix]
    return number if not suffix else text.lower()


def same_value(name, current, unit, wanted):
    """Return True when the current setting equals a recommended text."""
    if wanted is None:
        return True
    if name == "log_connections":
        # PostgreSQL 18 made it a list ("receipt,authentication,..."); "on"
        # means the classic three aspects, so any non-empty list counts.
        return (current.lower() not in ("", "off", "false")) == (
            wanted.lower() in ("on", "true", "all")
        )
    have, want = to_base(current, unit), to_base(wanted, None)
    if isinstance(have, float) and isinstance(want, float):
        return math.isclose(have, want, rel_tol=0.01)
    return str(have) == str(want)


def pretty_bytes(amount):
    """Return a PostgreSQL-style memory value: 16MB, 4GB, 64kB.

    From 1 GB on, whole megabytes are precise enough (6026MB, not 6170914kB).
    """
    if amount >= GB:
        amount -= amount % MB
    for suffix, size in (("GB", GB), ("MB", MB), ("kB", KB)):
        if amount >= size and amount % size == 0:
            return f"{amount // size}{suffix}"
    return f"{max(amount // KB, 1)}kB"


def pgtune(ram_bytes, cpus, db_type="web", storage="ssd", connections=None):
    """Return PGTune's recommendations as {setting: text}."""
    if not ram_bytes:
        return {}
    max_connections = (
        connections
        or {
            "web": 200,
            "oltp": 300,
            "dw": 40,
            "desktop": 20,
            "mixed": 100,
        }[db_type]
    )
    kb = ram_bytes // KB
    shared_kb = kb // 16 if db_type == "desktop" else kb // 4
    cache_kb = kb // 4 if db_type == "desktop" else kb * 3 // 4
    maintenance_kb = min(kb // 8 if db_type == "dw" else kb // 16, 8 * GB // KB)
    wal_kb = shared_kb * 3 // 100
    if wal_kb > 14 * 1024:
        wal_kb = 16 * 1024
    wal_kb = max(min(wal_kb, 16 * 1024), 32)
    workers = cpus if cpus and cpus >= 4 else 8
    work_kb = (kb - shared_kb) // ((max_connections + workers) * 3)
    if db_type in ("dw", "mixed"):
        work_kb //= 2
    elif db_type == "desktop":
        work_kb //= 6
    work_kb = max(work_kb, 4 * 1024)
    wal_sizes = {
        "web": ("1GB", "4GB"),
        "mixed": ("1GB", "4GB"),
        "oltp": ("2GB", "8GB"),
        "dw": ("4GB", "16GB"),
        "desktop": ("100MB", "2GB"),
    }[db_type]
    result = {
        "max_connections": str(max_connections),
        "shared_buffers": pretty_bytes(shared_kb * KB),
        "effective_cache_size": pretty_bytes(cache_kb * KB),
        "maintenance_work_mem": pretty_bytes(maintenance_kb * KB),
        "work_mem": pretty_bytes(work_kb * KB),
        "huge_pages": "try" if shared_kb * KB >= 2 * GB else "off",
        "checkpoint_completion_target": "0.9",
        "wal_buffers": pretty_bytes(wal_kb * KB),
        "min_wal_size": wal_sizes[0],
        "max_wal_size": wal_sizes[1],
        "default_statistics_target": "500" if db_type == "dw" else "100",
        "random_page_cost": "4" if storage == "hdd" else "1.1",
        "effective_io_concurrency": {"hdd": "2", "ssd": "200", "san": "300"}.get(
            storage, "200"
        ),
    }
    if db_type in ("web", "oltp", "mixed"):
        result["jit"] = "off"
    if cpus and cpus >= 4:
        per_gather = math.ceil(cpus / 2)
        result.update(
            max_worker_processes=str(cpus),
            max_parallel_workers_per_gather=str(
                per_gather if db_type == "dw" else min(per_gather, 4)
            ),
            max_parallel_workers=str(cpus),
            max_parallel_maintenance_workers=str(min(4, per_gather)),
        )
    return result


def server_machine(using="default"):
    """Find the server's memory and CPUs: settings, then the server, then here.

    The settings describe the console's own server, not a monitored target's.
    """
    ram_mb = settings.MONITORING_SERVER_RAM_MB if using == "default" else None
    cpus = settings.MONITORING_SERVER_CPUS if using == "default" else None
    if ram_mb and cpus:
        return Machine(ram_mb * MB, cpus, "settings MONITORING_SERVER_RAM_MB/_CPUS")
    found = _read_server_proc(using)
    if found:
        ram, count = found
        return Machine(
            ram_mb * MB if ram_mb else ram, cpus or count, "the server's /proc"
        )
    host = connections[using].settings_dict.get("HOST") or ""
    if host in ("", "localhost", "127.0.0.1", "::1") or host.startswith("/"):
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return Machine(
            ram_mb * MB if ram_mb else ram,
            cpus or os.cpu_count(),
            "this machine (the server runs on it)",
        )
    return Machine(
        ram_mb * MB if ram_mb else None,
        cpus,
        "unknown: the console's role cannot read the server's /proc "
        "(GRANT pg_read_server_files) and the server is remote; set "
        "MONITORING_SERVER_RAM_MB and MONITORING_SERVER_CPUS",
    )


def _read_server_proc(using):
    """Read /proc/meminfo and /proc/cpuinfo on the server, if allowed."""
    connection = connections[using]
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(
                tag_sql(
                    "SELECT pg_read_file('/proc/meminfo'),"
                    " pg_read_file('/proc/cpuinfo')"
                )
            )
            meminfo, cpuinfo = cursor.fetchone()
    except DatabaseError:
        return None
    total = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE)
    count = len(re.findall(r"^processor\s*:", cpuinfo, re.MULTILINE))
    if not total or not count:
        return None
    return int(total.group(1)) * KB, count


def review_settings(using="default", machine=None):
    """Return a SettingRow for each setting of the seed's configuration list."""
    machine = machine or server_machine(using)
    computed = pgtune(
        machine.ram_bytes,
        machine.cpus,
        db_type=settings.MONITORING_PGTUNE_DB_TYPE,
        storage=settings.MONITORING_PGTUNE_STORAGE,
    )
    names = [name for name, _category, _seed in SEED_SETTINGS]
    with reading_statistics(using) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, setting, unit, context, pending_restart,"
            " current_setting(name) AS shown"
            " FROM pg_settings WHERE name = ANY(%s)",
            [names],
        )
        columns = [column.name for column in cursor.description]
        found = {row[0]: dict(zip(columns, row, strict=True)) for row in cursor}
    rows = []
    for name, category, seed in SEED_SETTINGS:
        setting = found.get(name)
        if setting is None:
            continue
        wanted = computed.get(name)
        raw, unit = setting["setting"], setting["unit"]
        rows.append(
            SettingRow(
                name=name,
                category=category,
                current=setting["shown"],
                unit=unit,
                seed_recommended=seed,
                computed=wanted,
                differs_from_seed=not same_value(name, raw, unit, seed),
                differs_from_computed=not same_value(name, raw, unit, wanted),
                pending_restart=setting["pending_restart"],
                context=setting["context"],
            )
        )
    return rows
