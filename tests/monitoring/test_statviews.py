"""The statistics views: SQL chosen by version, columns, real counters."""

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from perfconsole.core.db import tag_sql
from perfconsole.monitoring.extension import (
    StatementsStatus,
    enable_steps,
    statements_status,
)
from perfconsole.monitoring.models import (
    IndexUsage,
    QueryStat,
    SlowQuery,
    TablePerformance,
)
from perfconsole.monitoring.statviews import (
    query_stats_file,
    query_stats_is_placeholder,
    server_variant,
    sync_views,
)

from .conftest import flush_statistics


def status_for(version, usable=True):
    return StatementsStatus(
        preloaded=usable,
        available=True,
        installed=usable,
        version=version,
        schema="public",
        readable=usable,
    )


@pytest.mark.parametrize(
    "version, expected",
    [
        ("1.8", "query_stats_v1_pgss_1_8.sql"),
        ("1.9", "query_stats_v1_pgss_1_9.sql"),
        ("1.10", "query_stats_v1_pgss_1_9.sql"),
        ("1.11", "query_stats_v1_pgss_1_11.sql"),
        ("1.12", "query_stats_v1_pgss_1_11.sql"),
    ],
)
def test_it_chooses_query_stats_sql_by_extension_version(version, expected):
    assert query_stats_file(1, status_for(version)) == expected


def test_it_chooses_the_placeholder_without_a_usable_extension():
    assert query_stats_file(1, status_for(None, usable=False)).endswith("_absent.sql")
    assert server_variant(150008) == "pg14"
    assert server_variant(160000) == "pg16"


def test_it_puts_the_tag_after_the_first_keyword():
    # PostgreSQL 18's pg_stat_statements drops a leading comment.
    assert tag_sql("SELECT 1") == "SELECT /* perfconsole */ 1"
    assert tag_sql("/* perfconsole */ SELECT 1").strip() == "SELECT /* perfconsole */ 1"
    assert tag_sql("  WITH a AS (SELECT 1) SELECT * FROM a").startswith(
        "  WITH /* perfconsole */ a"
    )
    assert tag_sql("SELECT /* perfconsole */ 1") == "SELECT /* perfconsole */ 1"


@pytest.mark.django_db
def test_it_built_the_views_for_this_server_and_extension():
    status = statements_status()
    assert status.usable, status.error
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_viewdef('query_stats'::regclass)")
        (query_stats,) = cursor.fetchone()
        cursor.execute("SELECT pg_get_viewdef('index_usage_stats'::regclass)")
        (index_usage,) = cursor.fetchone()
    assert ("shared_blk_read_time" in query_stats) == (status.version_tuple >= (1, 11))
    assert ("i.last_idx_scan" in index_usage) == (connection.pg_version >= 160000)
    assert not query_stats_is_placeholder()


@pytest.mark.django_db
def test_it_reads_every_view_through_its_model():
    for model in (QueryStat, SlowQuery, IndexUsage, TablePerformance):
        list(model.objects.all()[:5])
    row = IndexUsage.objects.get(index_name="auth_user_pkey")
    assert row.is_primary and row.is_unique and row.is_valid
    assert row.table_name == "auth_user"


@pytest.mark.django_db
def test_it_follows_the_extension_when_it_is_dropped_and_created_again():
    with connection.cursor() as cursor:
        cursor.execute("DROP EXTENSION pg_stat_statements CASCADE")
    status = sync_views()
    assert not status.usable
    assert "CREATE EXTENSION pg_stat_statements;" in " ".join(status.steps)
    assert query_stats_is_placeholder()
    assert list(QueryStat.objects.all()) == []
    assert list(SlowQuery.objects.all()) == []
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION pg_stat_statements")
    call_command("syncstatviews")
    assert not query_stats_is_placeholder()
    QueryStat.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_counts_calls_and_leaves_out_the_console_own_statements(second_connection):
    conn = second_connection()
    for _ in range(3):
        conn.execute("SELECT md5('x') || 'y' AS monitoring_calls_marker")
    # Constants become $n and the text is the first seen: unusual shapes.
    conn.execute(
        tag_sql(
            "SELECT upper('a') || lower('b') || initcap('c')"
            " AS monitoring_tagged_marker"
        )
    )
    stat = QueryStat.objects.get(query__contains="monitoring_calls_marker")
    assert stat.calls == 3
    assert stat.user_name == connection.settings_dict["USER"]
    assert stat.share_of_total is not None and 0 <= stat.share_of_total <= 100
    assert not QueryStat.objects.filter(query__contains="monitoring_tagged_marker")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_statements"
            " WHERE query LIKE '%monitoring_tagged_marker%'"
            " AND dbid = (SELECT oid FROM pg_database"
            "             WHERE datname = current_database())"
        )
        assert cursor.fetchone()[0] == 1  # recorded, only hidden by the view


@pytest.mark.django_db(transaction=True)
def test_it_lists_a_statement_of_one_second_or_more_as_slow(second_connection):
    conn = second_connection()
    conn.execute("SELECT pg_sleep(1.01) AS monitoring_slow_marker")
    conn.execute("SELECT pg_sleep(0.01), 1 AS monitoring_fast_marker")
    slow = SlowQuery.objects.get(query__contains="monitoring_slow_marker")
    assert slow.mean_time_ms >= 1000
    assert not SlowQuery.objects.filter(query__contains="monitoring_fast_marker")


@pytest.mark.django_db(transaction=True)
def test_it_measures_index_and_table_usage(scratch):
    conn, schema = scratch
    conn.execute(
        f"CREATE TABLE {schema}.events (id int PRIMARY KEY, kind text)"
        " WITH (autovacuum_enabled = false)"
    )
    conn.execute(f"CREATE INDEX events_kind ON {schema}.events (kind)")
    conn.execute(
        f"INSERT INTO {schema}.events SELECT g, 'k' || (g % 10)"
        " FROM generate_series(1, 2000) g"
    )
    conn.execute(f"DELETE FROM {schema}.events WHERE id > 500")
    for _ in range(3):
        conn.execute(f"SELECT count(*) FROM {schema}.events")  # seq scans
    conn.execute(f"SELECT * FROM {schema}.events WHERE id = 7")  # index scan
    flush_statistics(conn)

    table = TablePerformance.objects.get(schema_name=schema, table_name="events")
    assert table.n_dead_tup == 1500
    assert table.n_live_tup == 500
    assert table.dead_ratio == 75.0
    assert table.seq_scan >= 3 and table.idx_scan >= 1
    assert table.seq_scan_ratio == round(
        100 * table.seq_scan / (table.seq_scan + table.idx_scan), 2
    )
    assert table.n_tup_ins == 2000 and table.n_tup_del == 1500
    assert table.total_size_bytes >= table.table_size_bytes + table.indexes_size_bytes

    pkey = IndexUsage.objects.get(schema_name=schema, index_name="events_pkey")
    unused = IndexUsage.objects.get(schema_name=schema, index_name="events_kind")
    assert pkey.idx_scan >= 1 and pkey.is_primary
    assert unused.idx_scan == 0 and not unused.is_unique
    assert unused.index_usage_ratio == table.index_usage_ratio
    assert unused.definition.startswith("CREATE INDEX events_kind")
    if connection.pg_version >= 160000:
        assert pkey.last_idx_scan is not None


def test_it_tells_the_exact_commands_for_each_missing_piece():
    not_preloaded = StatementsStatus(
        preloaded=False,
        available=True,
        installed=False,
        shared_preload_libraries="auto_explain",
    )
    steps = enable_steps(not_preloaded)
    assert steps[0].startswith(
        "ALTER SYSTEM SET shared_preload_libraries = "
        "'auto_explain, pg_stat_statements';"
    )
    assert "restart PostgreSQL" in steps[0]
    assert "CREATE EXTENSION pg_stat_statements;" in steps[1]
    assert steps[-1] == "python manage.py syncstatviews"

    outdated = status_for("1.10")
    outdated.default_version = "1.11"
    assert outdated.update_available
    assert any("syncstatviews --update-extension" in s for s in enable_steps(outdated))
    assert enable_steps(status_for("1.12")) == []

    query_id_off = status_for("1.12")
    query_id_off.compute_query_id = "off"
    assert "compute_query_id = 'auto'" in enable_steps(query_id_off)[0]


@pytest.mark.django_db
def test_it_updates_the_extension_around_the_views(admin_client):
    default = statements_status().default_version
    major, minor = default.split(".")
    older = f"{major}.{int(minor) - 1}"
    with connection.cursor() as cursor:
        cursor.execute("DROP EXTENSION pg_stat_statements CASCADE")
        cursor.execute(f"CREATE EXTENSION pg_stat_statements VERSION '{older}'")
    status = sync_views()
    assert status.version == older and status.update_available
    list(QueryStat.objects.all()[:1])  # the older variant reads
    page = admin_client.get(reverse("admin:monitoring_querystat_changelist"))
    assert b"python manage.py syncstatviews --update-extension" in page.content
    # A plain update fails: the extension's script drops the view we read.
    with pytest.raises(DatabaseError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("ALTER EXTENSION pg_stat_statements UPDATE")
    call_command("syncstatviews", update_extension=True)
    status = statements_status()
    assert status.version == default and not status.update_available
    assert not query_stats_is_placeholder()
    list(QueryStat.objects.all()[:1])
