"""Decide whether a database looks like a development one.

`benchmark --compare` drops indexes inside a transaction it rolls back: the
data and schema come out unchanged, but DROP INDEX holds an ACCESS EXCLUSIVE
lock on the collaboration tables for the whole comparison, which stops every
other session that touches them. That is fine on a developer's database and
an outage anywhere else.

The rule: the console's own embedded server (settings.EMBEDDED_DATABASE), or
a server reached over loopback or a Unix socket whose database name matches
BENCHMARK_DEVELOPMENT_NAMES (default: dev, test, local, perfconsole). Both
facts are read from the server itself (inet_server_addr(), current_database()),
not from the URL, so a tunnel to production on localhost with a production
database name is still refused.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import connection

DEFAULT_NAMES = r"dev|test|local|perfconsole"


def development_verdict() -> tuple[bool, str]:
    """Return (looks like development, the reason in one sentence)."""
    if getattr(settings, "EMBEDDED_DATABASE", False):
        return True, "the console's embedded PostgreSQL"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_database(),"
            " coalesce(host(inet_server_addr()), 'unix socket')"
        )
        database, address = cursor.fetchone()
    pattern = settings.BENCHMARK_DEVELOPMENT_NAMES or DEFAULT_NAMES
    local = address == "unix socket" or address in ("127.0.0.1", "::1")
    named = re.search(pattern, database, re.IGNORECASE) is not None
    where = f"database {database!r} on {address}"
    if local and named:
        return True, f"{where}: local, and its name matches /{pattern}/"
    if not local:
        return False, f"{where}: not a loopback or Unix-socket server"
    return False, f"{where}: its name does not match /{pattern}/"
