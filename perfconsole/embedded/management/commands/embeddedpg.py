"""Start, stop or report the embedded PostgreSQL server."""

import subprocess
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from perfconsole.embedded import EmbeddedServerError, configured_server
from perfconsole.embedded.server import (
    DATABASE_NAME,
    SUPERUSER,
    EmbeddedServer,
    EmbeddedStandby,
    _free_port,
)

# A standby to try the console's replication pages with listens on the first
# free port from STANDBY_PORT_OFFSET above its primary's (54328 for 54318).
STANDBY_PORT_OFFSET = 10


class Command(BaseCommand):
    help = (
        "Manage the embedded PostgreSQL used when DATABASE_URL is unset: "
        "start, stop, status or url; standby / stop-standby start or stop a "
        "streaming standby of it, in var/<data directory>-standby (made with "
        "pg_basebackup the first time). EMBEDDED_PG_BIN picks another bin directory."
    )
    # manage.py does not start the server for this command: `status` and
    # `stop` must not need a connection.
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "action",
            choices=["start", "stop", "status", "url", "standby", "stop-standby"],
        )

    def handle(self, action: str, **options: Any) -> None:
        if not settings.EMBEDDED_DATABASE:
            raise CommandError(
                "DATABASE_URL is set: the console uses that server, not the "
                "embedded one. Unset DATABASE_URL to use the embedded server."
            )
        server = configured_server()
        try:
            if action == "start":
                started = server.ensure_running()
                verb = "started" if started else "already running"
                self.stdout.write(f"PostgreSQL {verb}: {server.url()}")
            elif action == "stop":
                stopped = server.stop()
                self.stdout.write("stopped" if stopped else "not running")
            elif action == "standby":
                self.start_standby(server)
            elif action == "stop-standby":
                stopped = standby_of(server).stop()
                self.stdout.write("standby stopped" if stopped else "not running")
            elif action == "status":
                status = server.status()
                if status.running:
                    self.stdout.write(
                        f"running: pid {status.pid}, port {status.port}, "
                        f"data {server.data_dir}, binaries {server.bin_dir}"
                    )
                else:
                    self.stdout.write(f"not running (data {server.data_dir})")
                    raise SystemExit(3)
            else:
                self.stdout.write(server.url())
        except EmbeddedServerError as error:
            raise CommandError(str(error)) from error
        except subprocess.CalledProcessError as error:
            reason = (error.stderr or b"").decode(errors="replace").strip()
            raise CommandError(f"{error.cmd[0]} failed: {reason}") from error

    def start_standby(self, server: EmbeddedServer) -> None:
        """Start the standby of the server, copying it first if there is none."""
        server.ensure_running()
        standby = standby_of(server)
        if not standby.data_dir.exists():
            standby.create(_free_port(server.planned_port() + STANDBY_PORT_OFFSET))
        standby.start()
        port = standby.server.planned_port()
        self.stdout.write(
            f"standby of {server.url()} running: "
            f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{DATABASE_NAME}"
        )


def standby_of(server: EmbeddedServer) -> EmbeddedStandby:
    """Return the standby kept beside the server's data directory."""
    data_dir = server.data_dir
    return EmbeddedStandby(server, data_dir.parent / f"{data_dir.name}-standby")
