"""Prepare the database and run the task cluster and web server together."""

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError

from perfconsole.embedded import stop_if_started_here


class Command(BaseCommand):
    help = (
        "What `make run` does: migrate, ensure an admin login, load small demo "
        "data into an empty database, create schedules, then run qcluster and "
        "the web server until Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--no-cluster", action="store_true")

    def handle(self, port, no_cluster, **options):
        port = str(port)
        if not (port.isdecimal() and 1 <= int(port) <= 65535):
            raise CommandError(
                f"--port (or PORT) must be a number from 1 to 65535; got {port!r}."
            )
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database migrated.")
        if settings.EMBEDDED_DATABASE:
            # The role that plans monitored statements (no right on the console).
            call_command("setupexplainrole")
        call_command("ensureadmin")
        available = get_commands()
        if "seeddemo" in available:
            call_command("seeddemo", scale="small", if_empty=True)
        if "setupschedules" in available:
            call_command("setupschedules")
        if "collectstats" in available:
            # A baseline now: the schedule's first run, when the cluster
            # starts, then gives the dashboard's charts their first point.
            call_command("collectstats")

        children = []
        if not no_cluster:
            children.append(self._spawn(["qcluster"], "qcluster"))
        children.append(
            self._spawn(["runserver", f"127.0.0.1:{port}", "--noreload"], "web")
        )
        self.stdout.write(
            self.style.SUCCESS(f"\nperfconsole is at http://127.0.0.1:{port}/admin/")
        )
        self.stdout.write("Press Ctrl-C to stop.\n")
        try:
            self._wait(children)
        finally:
            self._stop(children)

    def _spawn(self, arguments, kind):
        # The children reuse the server this process runs on; only this
        # process stops it (if its manage.py started it).
        env = {**os.environ, "PERFCONSOLE_PROCESS": kind}
        return subprocess.Popen(
            [sys.executable, "manage.py", *arguments],
            cwd=settings.BASE_DIR,
            env=env,
            # Ctrl-C reaches only this process, which stops children in order.
            start_new_session=True,
        )

    def _wait(self, children):
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            while all(child.poll() is None for child in children):
                try:
                    children[-1].wait(timeout=1)
                except subprocess.TimeoutExpired:
                    pass
            failed = [c for c in children if c.returncode not in (None, 0)]
            if failed:
                self.stderr.write(
                    f"A process exited with status {failed[0].returncode}"
                )
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")

    def _stop(self, children):
        for child in children:
            if child.poll() is None:
                child.send_signal(
                    signal.SIGINT if child is children[-1] else signal.SIGTERM
                )
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        if stop_if_started_here():
            self.stdout.write("Embedded PostgreSQL stopped.")
        self.stdout.write("Stopped.")
