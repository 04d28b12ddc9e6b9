"""Start, stop or report the embedded PostgreSQL server."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from perfconsole.embedded import EmbeddedServerError, configured_server


class Command(BaseCommand):
    help = (
        "Manage the embedded PostgreSQL used when DATABASE_URL is unset: "
        "start, stop, status or url. EMBEDDED_PG_BIN picks another bin directory."
    )
    # manage.py does not start the server for this command: `status` and
    # `stop` must not need a connection.
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["start", "stop", "status", "url"])

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
