"""Create the statistics views from SQL chosen by server and extension version.

The SQL lives in sql/views/<view>_v<N>_<variant>.sql. Migrations create a
given version; `manage.py syncstatviews` re-creates the newest one, e.g. after
pg_stat_statements was enabled or updated. Every variant of a view has the
same columns, so CREATE OR REPLACE keeps dependent views valid.
"""

from __future__ import annotations

from django.db import DatabaseError, connections, transaction

from perfconsole.core.db import sqlstate_of, tag_sql
from perfconsole.core.sqlfiles import SqlFolder
from perfconsole.monitoring.extension import EXTENSION, statements_status

load_sql = SqlFolder(__file__, "views").read
LATEST_VERSION = 3
# The file version of each view in each version of the set: in 2 the sizes
# of a table or index another session locks exclusively are left out; in 3
# query_stats keeps the console's own statements, marked by is_console.
FILE_VERSIONS = {
    1: {
        "query_stats": 1,
        "slow_queries": 1,
        "index_usage_stats": 1,
        "table_performance_stats": 1,
    },
    2: {
        "query_stats": 1,
        "slow_queries": 1,
        "index_usage_stats": 2,
        "table_performance_stats": 2,
    },
    3: {
        "query_stats": 2,
        "slow_queries": 2,
        "index_usage_stats": 2,
        "table_performance_stats": 2,
    },
}
# In dependency order: slow_queries reads query_stats.
VIEW_NAMES = (
    "query_stats",
    "slow_queries",
    "index_usage_stats",
    "table_performance_stats",
)
# Marks the placeholder, so pages can tell "extension enabled but not synced".
PLACEHOLDER_COMMENT = "perfconsole placeholder: pg_stat_statements not usable"


def query_stats_file(version, status):
    """Return the query_stats file for the installed pg_stat_statements."""
    if not status.usable:
        return f"query_stats_v{version}_absent.sql"
    if status.version_tuple >= (1, 11):
        return f"query_stats_v{version}_pgss_1_11.sql"
    if status.version_tuple >= (1, 9):
        return f"query_stats_v{version}_pgss_1_9.sql"
    return f"query_stats_v{version}_pgss_1_8.sql"


def server_variant(server_version):
    """Return the file suffix for the server: last_*_scan came in 16."""
    return "pg16" if server_version >= 160000 else "pg14"


def view_statements(version, status, server_version):
    """Return (view name, SQL) for every view, in dependency order."""
    variant = server_variant(server_version)
    files = FILE_VERSIONS[version]
    query_stats = load_sql(query_stats_file(files["query_stats"], status))
    if status.usable:
        query_stats = query_stats.replace("{pgss}", status.qualified_view)
    return [
        ("query_stats", query_stats),
        ("slow_queries", load_sql(f"slow_queries_v{files['slow_queries']}.sql")),
        (
            "index_usage_stats",
            load_sql(f"index_usage_stats_v{files['index_usage_stats']}_{variant}.sql"),
        ),
        (
            "table_performance_stats",
            load_sql(
                f"table_performance_stats_v{files['table_performance_stats']}"
                f"_{variant}.sql"
            ),
        ),
    ]


def sync_views(version=LATEST_VERSION, using="default"):
    """Create or replace every statistics view; return the status used."""
    connection = connections[using]
    status = statements_status(using)
    connection.ensure_connection()
    statements = view_statements(version, status, connection.pg_version)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for _name, sql in statements:
            cursor.execute(sql)
        comment = (
            PLACEHOLDER_COMMENT
            if not status.usable
            else (f"perfconsole v{version}: {EXTENSION} {status.version}")
        )
        cursor.execute(f"COMMENT ON VIEW query_stats IS '{comment}'")
    return status


class ExtensionOwnerRequired(Exception):
    """Only the extension's owner may update it; the message says who and how."""


def update_extension(using="default"):
    """Run ALTER EXTENSION ... UPDATE with the views out of its way.

    The extension's update script drops and re-creates its view, which
    query_stats depends on: swap in the placeholder, update, then re-sync.
    Raises ExtensionOwnerRequired when the console's role does not own the
    extension; nothing is changed then.
    """
    connection = connections[using]
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            placeholder = FILE_VERSIONS[LATEST_VERSION]["query_stats"]
            cursor.execute(load_sql(f"query_stats_v{placeholder}_absent.sql"))
            cursor.execute(f"ALTER EXTENSION {EXTENSION} UPDATE")
    except DatabaseError as error:
        if sqlstate_of(error) != "42501":
            raise
        raise ExtensionOwnerRequired(_owner_required_message(connection)) from error
    return sync_views(using=using)


def _owner_required_message(connection):
    """Say who owns the extension and what that role has to run."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT extowner::regrole::text, current_user, current_database()"
            " FROM pg_extension WHERE extname = %s",
            [EXTENSION],
        )
        owner, role, database = cursor.fetchone()
    db = connection.settings_dict
    server = f"{db['HOST'] or '<host>'}:{db['PORT'] or 5432}"
    return (
        f"Only the owner of the extension {EXTENSION} ({owner}, usually a "
        f"superuser) can run ALTER EXTENSION {EXTENSION} UPDATE; the console's "
        f"role {role} cannot. Nothing was changed. As {owner}, run this command "
        f"against database {database}: DATABASE_URL=postgresql://{owner}@{server}/"
        f"{database} python manage.py syncstatviews --update-extension "
        "(a plain ALTER EXTENSION fails while query_stats reads the extension's "
        "view)."
    )


def drop_views(using="default"):
    """Drop every statistics view (a migration's reverse)."""
    with connections[using].cursor() as cursor:
        for name in reversed(VIEW_NAMES):
            cursor.execute(f"DROP VIEW IF EXISTS {name}")


def query_stats_is_placeholder(using="default"):
    """Return True when query_stats is the empty placeholder view."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            tag_sql("SELECT obj_description(to_regclass('query_stats'), 'pg_class')")
        )
        (comment,) = cursor.fetchone()
    return comment == PLACEHOLDER_COMMENT
