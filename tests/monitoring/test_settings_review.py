"""Settings review: the seed's values, PGTune's formulas, real settings."""

import pytest
from django.db import connection
from django.urls import reverse

from perfconsole.monitoring.settings_review import (
    GB,
    MB,
    Machine,
    pgtune,
    review_settings,
    same_value,
    server_machine,
)


def test_it_computes_pgtune_for_a_web_server_with_16_gb_and_8_cpus():
    tuned = pgtune(16 * GB, 8)
    assert tuned["shared_buffers"] == "4GB"
    assert tuned["effective_cache_size"] == "12GB"
    assert tuned["maintenance_work_mem"] == "1GB"
    # (16 GB - 4 GB) / ((200 connections + 8 workers) * 3), in kB
    assert tuned["work_mem"] == "20164kB"
    assert tuned["wal_buffers"] == "16MB"
    assert tuned["huge_pages"] == "try"
    assert tuned["max_worker_processes"] == "8"
    assert tuned["max_parallel_workers_per_gather"] == "4"
    assert tuned["max_parallel_maintenance_workers"] == "4"
    assert tuned["random_page_cost"] == "1.1"
    assert tuned["jit"] == "off"


def test_it_computes_pgtune_for_a_small_server():
    tuned = pgtune(2 * GB, 2)
    assert tuned["shared_buffers"] == "512MB"
    assert tuned["effective_cache_size"] == "1536MB"
    assert tuned["maintenance_work_mem"] == "128MB"
    assert tuned["work_mem"] == "4MB"  # PGTune's floor
    assert tuned["huge_pages"] == "off"
    assert "max_worker_processes" not in tuned  # parallel settings need 4 CPUs
    assert pgtune(None, 2) == {}
    assert pgtune(64 * GB, 4, db_type="dw")["maintenance_work_mem"] == "8GB"


@pytest.mark.parametrize(
    "name, setting, unit, wanted, same",
    [
        ("shared_buffers", "32768", "8kB", "256MB", True),
        ("shared_buffers", "16384", "8kB", "256MB", False),
        ("work_mem", "4096", "kB", "4MB", True),
        ("autovacuum_naptime", "20", "s", "20s", True),
        ("autovacuum_naptime", "60", "s", "20s", False),
        ("log_min_duration_statement", "1000", "ms", "1000", True),
        ("random_page_cost", "1.1", None, "1.1", True),
        ("log_checkpoints", "on", None, "on", True),
        ("log_lock_waits", "off", None, "on", False),
        ("log_connections", "", None, "on", False),
        ("log_connections", "receipt,authentication", None, "on", True),
        ("jit", "on", None, None, True),
    ],
)
def test_it_compares_values_in_their_units(name, setting, unit, wanted, same):
    assert same_value(name, setting, unit, wanted) is same


@pytest.mark.django_db
def test_it_reviews_the_server_settings():
    machine = Machine(8 * GB, 4, "test")
    with connection.cursor() as cursor:
        cursor.execute("SET work_mem = '4MB'")
    rows = {row.name: row for row in review_settings(machine=machine)}
    assert set(rows) >= {"max_connections", "shared_buffers", "autovacuum_naptime"}
    work_mem = rows["work_mem"]
    assert work_mem.current == "4MB" and not work_mem.differs_from_seed
    assert work_mem.computed == pgtune(8 * GB, 4)["work_mem"]
    assert work_mem.differs_from_computed and work_mem.differs
    assert rows["shared_buffers"].context == "postmaster"
    assert not any(row.pending_restart for row in rows.values())

    with connection.cursor() as cursor:
        cursor.execute("SET work_mem = '64MB'")
    rows = {row.name: row for row in review_settings(machine=machine)}
    assert rows["work_mem"].current == "64MB" and rows["work_mem"].differs_from_seed


@pytest.mark.django_db
def test_it_finds_the_server_memory_and_cpus(settings):
    machine = server_machine()
    assert machine.ram_bytes > 256 * MB and machine.cpus >= 1
    settings.MONITORING_SERVER_RAM_MB = 4096
    settings.MONITORING_SERVER_CPUS = 16
    assert server_machine() == Machine(
        4 * GB, 16, "settings MONITORING_SERVER_RAM_MB/_CPUS"
    )


@pytest.mark.django_db
def test_it_falls_back_when_the_role_cannot_read_the_server_files(monitor_role):
    machine = server_machine()
    # pg_monitor has no pg_read_server_files; the test server is local.
    assert machine.source == "this machine (the server runs on it)"
    assert machine.ram_bytes > 0


@pytest.mark.django_db
def test_it_renders_the_settings_review_page(admin_client):
    body = admin_client.get(
        reverse("admin:monitoring_settingsreview_changelist")
    ).content.decode()
    for name in ("max_connections", "shared_buffers", "log_lock_waits"):
        assert f"<code>{name}</code>" in body
    assert "256MB" in body  # the seed's shared_buffers
    assert "PGTune" in body


def test_it_rounds_large_values_to_megabytes():
    tuned = pgtune(23 * GB + 512 * MB, 2)
    assert tuned["shared_buffers"] == "6016MB"
    assert tuned["effective_cache_size"] == "18048MB"


@pytest.mark.django_db
def test_recommendations_read_as_show_prints_them(admin_client):
    body = admin_client.get(
        reverse("admin:monitoring_settingsreview_changelist")
    ).content.decode()

    row = body[body.index("<code>log_min_duration_statement</code>") :]
    row = row[: row.index("</tr>")]
    # The seed's 1000 (in the setting's unit, ms) reads as SHOW prints it.
    assert ">1s</td>" in row
    assert ">1000</td>" not in row
