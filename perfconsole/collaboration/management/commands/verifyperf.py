"""Check every object the performance migration promises."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from perfconsole.collaboration.performance import verify


class Command(BaseCommand):
    help = (
        "Check the seed's indexes (TARGETS.md) and the foreign-key indexes "
        "(present, valid, defined as their .sql files), "
        "functions and materialized view: one line per object."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument("--database", default="default")

    def handle(self, *, json: bool, database: str, **options):
        if database not in connections.settings:
            known = ", ".join(connections.settings)
            raise CommandError(
                f"--database {database}: no such database alias (known: {known})."
            )
        findings = verify(database)
        failed = [finding for finding in findings if not finding.ok]
        if json:
            self.stdout.write(_dumps(findings, failed))
        else:
            for finding in findings:
                style = self.style.SUCCESS if finding.ok else self.style.ERROR
                self.stdout.write(style(finding.line()))
        if failed:
            raise CommandError(
                f"{len(failed)} of {len(findings)} performance objects are wrong",
                returncode=1,
            )
        if not json:
            self.stdout.write(f"All {len(findings)} performance objects are in place.")


def _dumps(findings, failed):
    """Return the machine-readable report."""
    return json.dumps(
        {
            "ok": not failed,
            "objects": [finding.as_dict() for finding in findings],
        },
        indent=2,
    )
