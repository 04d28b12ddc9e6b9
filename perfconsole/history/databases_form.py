"""The admin form of a monitored database: libpq parameters that cannot inject.

Each field becomes one libpq keyword of a connection string the console
builds, so a value with a quote, a backslash or a control character could
end one keyword and start another (a host, a password file, a command for
sslpassword): such values are refused, as are a database name that libpq
would read as a whole connection string, an out-of-range port and a
password variable the console does not reserve for targets. The password
itself is never a field.
"""

from __future__ import annotations

import re

from django import forms

from .models import MonitoredDatabase

CONNECTION_FIELDS = (
    "host",
    "port",
    "dbname",
    "user",
    "service",
    "sslmode",
    "password_env",
)
TEXT_FIELDS = ("name", "host", "dbname", "user", "service", "password_env")
# Quotes, backslashes and every control character (NUL, newline, tab, DEL).
FORBIDDEN = re.compile(r"['\"\\\x00-\x1f\x7f]")
SSL_MODES = ["", "disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
# Only variables with this prefix may hold a target's password: a free name
# would let whoever may add a target send any of the console's own secrets
# (SECRET_KEY, DATABASE_URL) as a password to a server of their choosing.
PASSWORD_ENV_PREFIX = "PERFCONSOLE_PASSWORD_"
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# libpq reads a dbname with "=" or a URI scheme as a whole connection string.
CONNECTION_STRING = re.compile(r"=|^postgres(ql)?://", re.IGNORECASE)
MAX_PORT = 65535
# The collection schedule runs once a minute at most; raw rows last two days.
MIN_INTERVAL_S, MAX_INTERVAL_S = 60, 86_400


class MonitoredDatabaseForm(forms.ModelForm):
    """Add or change a target; every bad value is a form error, never a 500."""

    sslmode = forms.ChoiceField(
        choices=[(mode, mode or "libpq's default (prefer)") for mode in SSL_MODES],
        required=False,
    )

    class Meta:
        model = MonitoredDatabase
        fields = (
            "name",
            *CONNECTION_FIELDS,
            "role",
            "primary",
            "enabled",
            "collect_interval_s",
        )
        help_texts = {
            "password_env": f"a variable named {PASSWORD_ENV_PREFIX}…, set in the "
            "console's web and task processes, that holds the password; leave "
            "empty to use libpq's password file or service file",
        }

    def clean(self):
        cleaned = super().clean()
        for name in TEXT_FIELDS:
            value = cleaned.get(name)
            if value and FORBIDDEN.search(value):
                self.add_error(
                    name,
                    "Quotes, backslashes, newlines and other control characters "
                    "are not allowed here.",
                )
        # The console's own database shows its connection read-only.
        if "dbname" in self.fields:
            self.check_port(cleaned.get("port"))
            self.check_dbname(cleaned.get("dbname"), cleaned.get("service"))
            self.check_password_env(cleaned.get("password_env"))
        self.check_interval(cleaned.get("collect_interval_s"))
        if "role" in self.fields:
            self.check_role(cleaned.get("role"), cleaned.get("primary"))
        return cleaned

    def check_port(self, port):
        """Refuse a port outside 1-65535."""
        if port is not None and not 1 <= port <= MAX_PORT:
            self.add_error("port", f"A port is a number from 1 to {MAX_PORT}.")

    def check_interval(self, seconds):
        """Refuse an interval the schedule cannot keep, or longer than a day."""
        if seconds is not None and not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S:
            self.add_error(
                "collect_interval_s",
                f"From {MIN_INTERVAL_S} seconds (collections start once a minute "
                f"at most) to {MAX_INTERVAL_S:,} (a day).",
            )

    def check_dbname(self, dbname, service):
        """Ask for a database name or a service; refuse a connection string."""
        if not dbname and not service and "dbname" not in self.errors:
            self.add_error(
                "dbname",
                "Give a database name, or a service of pg_service.conf that names one.",
            )
        if dbname and CONNECTION_STRING.search(dbname):
            self.add_error(
                "dbname",
                "A database name, not a connection string: put each parameter "
                "in its own field.",
            )

    def check_password_env(self, name):
        """Accept a variable name with the prefix reserved for target passwords."""
        if not name or "password_env" in self.errors:
            return
        if not VARIABLE_NAME.fullmatch(name):
            self.add_error(
                "password_env",
                "A variable name: letters, digits and underscores, not "
                "starting with a digit.",
            )
        elif not name.startswith(PASSWORD_ENV_PREFIX) or name == PASSWORD_ENV_PREFIX:
            self.add_error(
                "password_env",
                f"The variable's name must start with {PASSWORD_ENV_PREFIX} "
                f"(e.g. {PASSWORD_ENV_PREFIX}STAGING): only those may hold a "
                "target's password.",
            )

    def check_role(self, role, primary):
        """A standby names its primary; the primary is another, primary target."""
        if role == MonitoredDatabase.STANDBY:
            if self.instance.pk and self.instance.standbys.exists():
                self.add_error(
                    "role",
                    "Other targets are standbys of this one: make them "
                    "primaries or remove them first.",
                )
            if primary is None:
                self.add_error("primary", "A standby needs the target it replicates.")
            elif self.instance.pk and primary.pk == self.instance.pk:
                self.add_error("primary", "A target cannot replicate itself.")
            elif primary.role == MonitoredDatabase.STANDBY:
                self.add_error(
                    "primary",
                    f"{primary.name} is itself a standby: choose the primary it "
                    "replicates (cascading standbys are not followed).",
                )
        elif primary is not None:
            self.add_error("primary", "Only a standby has a primary: leave it empty.")
