"""The performance objects as a Django system check (tag `database`)."""

from django.core import checks
from django.db import DatabaseError, connections
from django.db.migrations.recorder import MigrationRecorder

from perfconsole.collaboration.performance import verify

PERFORMANCE_MIGRATION = ("collaboration", "0002_performance")


@checks.register(checks.Tags.database)
def check_performance_objects(app_configs=None, databases=None, **kwargs):
    """Report each missing, invalid or altered performance object."""
    errors = []
    for alias in databases or ():
        if alias != "default":
            continue
        try:
            applied = MigrationRecorder(connections[alias]).applied_migrations()
            if PERFORMANCE_MIGRATION not in applied:
                errors.append(
                    checks.Warning(
                        "The performance migration is not applied.",
                        hint="Run: python manage.py migrate collaboration",
                        id="collaboration.W001",
                    )
                )
                continue
            findings = verify(alias)
        except DatabaseError as error:
            errors.append(
                checks.Warning(
                    f"Cannot verify the performance objects: {error}",
                    id="collaboration.W002",
                )
            )
            continue
        errors += [
            checks.Error(
                finding.line(),
                hint="Run: python manage.py migrate collaboration (and verifyperf)",
                id="collaboration.E001",
            )
            for finding in findings
            if not finding.ok
        ]
    return errors
