"""Run the health checks from the command line (for cron, CI or a shell)."""

import json
from dataclasses import asdict

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from perfconsole.health.registry import (
    SEVERITY,
    get_check,
    overall_status,
    registered_checks,
    run_all_checks,
)


class Command(BaseCommand):
    help = "Run the health checks and print their status, rows and fixes."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="append",
            choices=sorted(check.key for check in registered_checks()),
            help="run only this check (repeatable)",
        )
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument(
            "--fail-on",
            choices=["warning", "critical"],
            help="exit with status 1 when a check reaches this status",
        )

    def handle(self, *args, **options):
        checks = [get_check(key) for key in options["check"] or []] or None
        results = run_all_checks(checks)
        if options["json"]:
            payload = {
                "status": overall_status(results),
                "checks": [asdict(result) for result in results],
            }
            self.stdout.write(json.dumps(payload, cls=DjangoJSONEncoder, indent=2))
        else:
            for result in results:
                self._write_text(result)
        fail_on = options["fail_on"]
        worst = overall_status(results)
        if fail_on and SEVERITY[worst] >= SEVERITY[fail_on]:
            raise CommandError(f"health: {worst}")

    def _write_text(self, result):
        self.stdout.write(f"[{result.status}] {result.title}: {result.summary}")
        for row in result.rows:
            subject = row.get("subject")
            if subject:
                self.stdout.write(f"    {subject}")
        for statement in result.fix_sql:
            self.stdout.write("    " + statement.replace("\n", "\n    "))
