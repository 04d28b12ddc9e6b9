"""Create the role monitored statements are planned as, and grant what it reads."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection, transaction

from perfconsole.monitoring.explain import (
    ExplainUnavailable,
    explain_role,
    explain_session,
    monitored_tables,
    role_setup_sql,
)


class Command(BaseCommand):
    help = (
        "Create the login role that plans monitored statements (default "
        "perfconsole_explain: no password, no rights on the console) if it is "
        "missing, and grant it SELECT on the monitored application's tables. "
        "Needs a superuser or CREATEROLE; otherwise prints the SQL to run."
    )

    def handle(self, **options):
        role = explain_role()
        tables = self._existing(monitored_tables())
        statements = role_setup_sql(role, tables)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
                if cursor.fetchone():
                    statements = statements[1:]
                for statement in statements:
                    cursor.execute(statement)
        except DatabaseError as error:
            recipe = ";\n".join(role_setup_sql(role, tables)) + ";"
            raise CommandError(
                f"Cannot set up the explain role {role}: "
                f"{str(error).strip().splitlines()[0]}\n"
                f"Run as a superuser in this database:\n{recipe}"
            ) from None
        self.stdout.write(
            f"Explain role {role}: SELECT on {len(tables)} tables of the "
            "monitored application."
        )
        self._verify(role)

    def _existing(self, tables):
        # Grants need the relation; a fresh database may lack some.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT t FROM unnest(%s::text[]) AS t"
                " WHERE to_regclass(quote_ident(t)) IS NOT NULL",
                [tables],
            )
            found = {row[0] for row in cursor.fetchall()}
        return [table for table in tables if table in found]

    def _verify(self, role):
        """Connect as the role and check it has no right on the console."""
        try:
            with explain_session():
                pass
        except ExplainUnavailable as error:
            self.stderr.write(str(error))
            return
        self.stdout.write(f"Connected as {role}: it has no right on the console.")
