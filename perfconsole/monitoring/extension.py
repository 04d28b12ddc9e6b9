"""Tell whether pg_stat_statements can be read here, and how to enable it."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import DatabaseError, connections, transaction

from perfconsole.core.db import tag_sql

EXTENSION = "pg_stat_statements"


@dataclass
class StatementsStatus:
    """What the console knows about pg_stat_statements in one database."""

    preloaded: bool
    available: bool
    installed: bool
    version: str | None = None
    default_version: str | None = None
    schema: str | None = None
    readable: bool = False
    compute_query_id: str | None = None
    track_io_timing: str | None = None
    shared_preload_libraries: str = ""
    error: str = ""
    steps: list[str] = field(default_factory=list)

    @property
    def usable(self):
        """Return True when the views can read pg_stat_statements."""
        return self.installed and self.preloaded and self.readable

    @property
    def update_available(self):
        """Return True when the server ships a newer extension version."""
        return bool(
            self.installed
            and self.default_version
            and self.version != self.default_version
        )

    @property
    def version_tuple(self):
        """Return the installed version as (major, minor), e.g. (1, 11)."""
        if not self.version:
            return None
        major, _, minor = self.version.partition(".")
        return int(major), int(minor or 0)

    @property
    def qualified_view(self):
        """Return the extension's view name, quoted and schema-qualified."""
        schema = self.schema.replace('"', '""')
        return f'"{schema}".pg_stat_statements'


def _preload_line(current):
    """Return the shared_preload_libraries value with the module added."""
    libraries = [lib.strip() for lib in current.split(",") if lib.strip()]
    libraries.append(EXTENSION)
    return ", ".join(libraries)


def enable_steps(status):
    """Return the exact commands that make pg_stat_statements usable."""
    steps = []
    if not status.preloaded:
        steps.append(
            "ALTER SYSTEM SET shared_preload_libraries = "
            f"'{_preload_line(status.shared_preload_libraries)}';"
            "  -- as a superuser, then restart PostgreSQL"
        )
    if not status.available:
        steps.append(
            "Install the contrib package of your PostgreSQL version (it ships "
            "pg_stat_statements), e.g. apt install postgresql-contrib"
        )
    if not status.installed:
        steps.append(f"CREATE EXTENSION {EXTENSION};  -- as a superuser, here")
    if status.compute_query_id == "off":
        steps.append(
            "ALTER SYSTEM SET compute_query_id = 'auto'; SELECT pg_reload_conf();"
        )
    if status.update_available:
        steps.append(
            "python manage.py syncstatviews --update-extension  "
            "(as the extension's owner, usually a superuser: runs ALTER "
            f"EXTENSION {EXTENSION} UPDATE around the views)"
        )
    if steps or not status.readable:
        steps.append("python manage.py syncstatviews")
    return steps


def statements_status(using="default"):
    """Inspect pg_stat_statements: preloaded, installed, version, readable."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(
            tag_sql(
                "SELECT current_setting('shared_preload_libraries'),"
                " current_setting('compute_query_id', true),"
                " current_setting('track_io_timing'),"
                " e.extversion, e.extnamespace::regnamespace::text,"
                " a.default_version"
                " FROM (SELECT 1) one"
                " LEFT JOIN pg_extension e ON e.extname = %s"
                " LEFT JOIN pg_available_extensions a ON a.name = %s"
            ),
            [EXTENSION, EXTENSION],
        )
        preload, query_id, io_timing, version, schema, default = cursor.fetchone()
    libraries = {lib.strip().strip('"') for lib in preload.split(",")}
    status = StatementsStatus(
        preloaded=EXTENSION in libraries,
        available=default is not None,
        installed=version is not None,
        version=version,
        default_version=default,
        schema=schema,
        compute_query_id=query_id,
        track_io_timing=io_timing,
        shared_preload_libraries=preload,
    )
    if status.installed and status.preloaded:
        status.readable, status.error = _probe(connection, status)
    status.steps = enable_steps(status)
    return status


def installed_version(using="default"):
    """Return the installed pg_stat_statements' version, or None.

    Reads the catalog only: it works for a role that may not see
    shared_preload_libraries, which statements_status() reads.
    """
    with connections[using].cursor() as cursor:
        cursor.execute(
            tag_sql("SELECT extversion FROM pg_extension WHERE extname = %s"),
            [EXTENSION],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _probe(connection, status):
    """Read one row, as pghero does: a missing grant or module shows here."""
    # pg_stat_statements_info (1.9+) fails the same way as the view without
    # the preloaded module, but reads no query texts: much cheaper.
    schema = status.qualified_view.rsplit(".", 1)[0]
    if status.version_tuple >= (1, 9):
        probe = f"SELECT 1 FROM {schema}.pg_stat_statements_info"
    else:
        probe = f"SELECT 1 FROM {schema}.pg_stat_statements(false) LIMIT 1"
    try:
        with transaction.atomic(using=connection.alias):
            with connection.cursor() as cursor:
                cursor.execute(tag_sql(probe))
    except DatabaseError as error:
        return False, str(error).strip()
    return True, ""
