"""Test a monitored database's connection: what works, what is missing, how to fix.

The test connects through the target's own alias (connection_alias: 5 s
connect timeout) and reads everything with a short statement timeout, so a
host that does not answer never holds the request for long. It records the
outcome on the target (status, status_reason, last_checked_at). No message
it produces contains the target's password: error texts are scrubbed of it
before they are shown, stored or logged.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.utils import timezone

from perfconsole.core.db import StatisticsUnavailable, monitoring_cursor, tag_sql
from perfconsole.monitoring.extension import installed_version, statements_status

from .connections import PasswordMissing, connection_alias
from .models import MonitoredDatabase

logger = logging.getLogger(__name__)

TEST_STATEMENT_TIMEOUT_MS = 3000
# The versions the console's statistics queries are written for.
OLDEST_VERSION, NEWEST_VERSION = 14, 18
HIDDEN = "********"

SERVER_SQL = """
SELECT current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num,
       pg_is_in_recovery() AS in_recovery,
       current_setting('track_io_timing') AS track_io_timing,
       current_user AS role_name,
       current_database() AS database_name,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       pg_has_role(current_user, 'pg_monitor', 'USAGE') AS pg_monitor
"""


@dataclass
class Finding:
    """One thing the test looked at: whether it works, and how to fix it."""

    name: str
    ok: bool
    detail: str
    fix: list[str] = field(default_factory=list)


@dataclass
class ConnectionReport:
    """What a connection test found about one target."""

    connected: bool
    reason: str = ""
    findings: list[Finding] = field(default_factory=list)

    @property
    def status(self) -> str:
        return MonitoredDatabase.UP if self.connected else MonitoredDatabase.DOWN

    @property
    def missing(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.ok]

    def summary(self) -> str:
        """Return one line for the admin log: up or down, and why."""
        if not self.connected:
            return f"down: {self.reason}"
        if self.reason:
            return f"up, but {self.reason}"
        return "up, nothing missing"


def run_connection_test(database: MonitoredDatabase) -> ConnectionReport:
    """Connect to the target, inspect it, record and return what was found."""
    report = inspect_target(database)
    report.reason = scrub(report.reason, database)
    for finding in report.findings:
        finding.detail = scrub(finding.detail, database)
    record_status(database, report)
    logger.info("Connection test of %s: %s", database.name, report.summary())
    return report


def inspect_target(database: MonitoredDatabase) -> ConnectionReport:
    """Return the report, connected or not; close the target's connection."""
    try:
        alias = connection_alias(database)
    except PasswordMissing as error:
        return ConnectionReport(False, str(error))
    try:
        try:
            connections[alias].ensure_connection()
        except DatabaseError as error:
            return ConnectionReport(False, f"cannot connect: {one_line(error)}")
        try:
            with monitoring_cursor(alias, TEST_STATEMENT_TIMEOUT_MS) as cursor:
                findings = server_findings(cursor, database)
                findings.append(statements_finding(alias))
        except StatisticsUnavailable as error:
            return ConnectionReport(False, f"connected, then {one_line(error)}")
    finally:
        if alias != DEFAULT_DB_ALIAS:
            connections[alias].close()
    missing = [finding.detail for finding in findings if not finding.ok]
    return ConnectionReport(True, "; ".join(missing), findings)


def server_findings(cursor, database: MonitoredDatabase) -> list[Finding]:
    """Return the version, grant, track_io_timing and role findings."""
    cursor.execute(tag_sql(SERVER_SQL))
    names = [column.name for column in cursor.description]
    server = dict(zip(names, cursor.fetchone(), strict=True))
    return [
        version_finding(server),
        grant_finding(server),
        io_timing_finding(server),
        role_finding(server, database),
    ]


def version_finding(server: dict) -> Finding:
    major = server["version_num"] // 10000
    supported = OLDEST_VERSION <= major <= NEWEST_VERSION
    detail = f"PostgreSQL {server['version']}"
    if not supported:
        detail += (
            f" is not one the console supports ({OLDEST_VERSION}-{NEWEST_VERSION})"
        )
    return Finding("server version", supported, detail)


def grant_finding(server: dict) -> Finding:
    role = quote_ident(server["role_name"])
    if server["superuser"]:
        return Finding("monitoring grant", True, f"{role} is a superuser")
    if server["pg_monitor"]:
        return Finding("monitoring grant", True, f"{role} is a member of pg_monitor")
    return Finding(
        "monitoring grant",
        False,
        f"{role} is not a member of pg_monitor (other sessions' queries and "
        "some statistics stay hidden)",
        [f"GRANT pg_monitor TO {role};  -- as a superuser"],
    )


def io_timing_finding(server: dict) -> Finding:
    if server["track_io_timing"] == "on":
        return Finding("track_io_timing", True, "track_io_timing is on")
    return Finding(
        "track_io_timing",
        False,
        "track_io_timing is off (I/O times read as zero)",
        ["ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();"],
    )


def role_finding(server: dict, database: MonitoredDatabase) -> Finding:
    in_recovery = server["in_recovery"]
    actual = MonitoredDatabase.STANDBY if in_recovery else MonitoredDatabase.PRIMARY
    if actual == database.role:
        return Finding("role", True, f"the server is a {actual}, as configured")
    return Finding(
        "role",
        False,
        f"the server is a {actual} (pg_is_in_recovery() is "
        f"{'true' if in_recovery else 'false'}) but the target is configured "
        f"as a {database.role}",
        [f"Set the target's role to {actual}."],
    )


def statements_finding(alias: str) -> Finding:
    """Say whether pg_stat_statements is installed and readable in the database."""
    try:
        with transaction.atomic(using=alias):
            status = statements_status(alias)
    except DatabaseError:
        # shared_preload_libraries is hidden from roles without
        # pg_read_all_settings (pg_monitor has it): check the catalog only.
        return extension_only_finding(alias)
    # The console's own views live in its own database, not in a target's.
    fix = [step for step in status.steps if "manage.py" not in step]
    if status.usable:
        return Finding(
            "pg_stat_statements", True, f"pg_stat_statements {status.version} is read"
        )
    if not status.installed:
        detail = "pg_stat_statements is not installed in this database"
    elif not status.preloaded:
        detail = "pg_stat_statements is not in shared_preload_libraries"
    else:
        detail = f"pg_stat_statements cannot be read: {one_line(status.error)}"
    return Finding("pg_stat_statements", False, detail, fix)


def extension_only_finding(alias: str) -> Finding:
    version = installed_version(alias)
    if version is None:
        return Finding(
            "pg_stat_statements",
            False,
            "pg_stat_statements is not installed in this database",
            [
                "Add pg_stat_statements to shared_preload_libraries and restart, "
                "then: CREATE EXTENSION pg_stat_statements;  -- as a superuser"
            ],
        )
    return Finding(
        "pg_stat_statements",
        True,
        f"pg_stat_statements {version} is installed (whether it is preloaded is "
        "hidden from this role)",
    )


def record_status(database: MonitoredDatabase, report: ConnectionReport) -> None:
    """Store the test's outcome on the target; status_since moves on a change."""
    now = timezone.now()
    changes = {
        "status": report.status,
        "status_reason": report.reason,
        "last_checked_at": now,
    }
    if database.status != report.status or database.status_since is None:
        changes["status_since"] = now
    MonitoredDatabase.objects.filter(pk=database.pk).update(**changes)
    for name, value in changes.items():
        setattr(database, name, value)


def scrub(text: str, database: MonitoredDatabase) -> str:
    """Return text with the target's password, if it holds it, hidden."""
    password = os.environ.get(database.password_env) if database.password_env else ""
    if password and password in text:
        return text.replace(password, HIDDEN)
    return text


def one_line(error: BaseException | str) -> str:
    """Return an error's message on one line (libpq's span several)."""
    return " ".join(str(error).split())


def quote_ident(name: str) -> str:
    """Quote a role name as SQL needs it in a GRANT."""
    if name.isidentifier() and name == name.lower() and name.isascii():
        return name
    return '"' + name.replace('"', '""') + '"'
