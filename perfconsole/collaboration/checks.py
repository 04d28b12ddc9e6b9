"""The performance objects as a Django system check (tag `database`)."""

from django.core import checks
from django.db import DatabaseError, connections
from django.db.migrations.loader import MigrationLoader

from perfconsole.collaboration.performance import verify

APP = "collaboration"


@checks.register(checks.Tags.database)
def check_performance_objects(app_configs=None, databases=None, **kwargs):
    """Report each missing, invalid or altered performance object."""
    errors = []
    for alias in databases or ():
        if alias != "default":
            continue
        try:
            # The objects are verified against the latest migration's promise,
            # so only once every migration of the app is applied.
            loader = MigrationLoader(connections[alias])
            pending = [
                name
                for app, name in loader.disk_migrations
                if app == APP and (app, name) not in loader.applied_migrations
            ]
            if pending:
                errors.append(
                    checks.Warning(
                        "Collaboration migrations are not applied: "
                        + ", ".join(sorted(pending)),
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
        # Warnings, not errors: `migrate` runs these checks, and an error
        # would stop the very command that puts the objects back.
        errors += [
            checks.Warning(
                finding.line(),
                hint="Run: python manage.py verifyperf, then migrate collaboration",
                id="collaboration.W003",
            )
            for finding in findings
            if not finding.ok
        ]
    return errors
