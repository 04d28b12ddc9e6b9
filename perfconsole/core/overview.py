"""Gather the few numbers the admin index shows before anything else."""

from typing import Any

from django.http import HttpRequest

from perfconsole.core.db import StatisticsUnavailable, cache_hits, fetch_dicts

SERVER_SQL = """
SELECT current_setting('server_version') AS server_version,
       pg_database_size(current_database()) AS database_bytes,
       now() - pg_postmaster_start_time() AS uptime,
       (SELECT count(*) FROM pg_stat_activity) AS connections,
       current_setting('max_connections')::int AS max_connections,
       (SELECT count(*) FROM pg_stat_activity
         WHERE state = 'active' AND pid <> pg_backend_pid()) AS active_queries
"""


def server_overview(using: str = "default") -> dict[str, Any]:
    """Return server figures, or {'error': reason} when they cannot be read.

    using: the alias of the monitored database (the console's by default).
    """
    try:
        server = fetch_dicts(SERVER_SQL, using=using)[0]
        server["cache_hit_pct"] = cache_hits(using)["database"].pct
    except StatisticsUnavailable as error:
        return {"error": str(error)}
    return server


def scoped_server_overview(request: HttpRequest) -> dict[str, Any]:
    """Return server_overview() of the database the pages show, named when a target."""
    # Imported here: the history app builds on core, not the reverse.
    from perfconsole.history.scoping import request_scope

    scope = request_scope(request)
    target = scope.other_target
    try:
        server = server_overview(scope.alias)
    except StatisticsUnavailable as error:  # a password variable that is unset
        server = {"error": str(error)}
    if "error" in server:
        server["error"] = scope.unavailable(Exception(server["error"]))
    server["target"] = target.name if target else ""
    return server


def open_alerts(database: Any = None) -> dict[str, int]:
    """Return counts of open alerts by severity (empty without the alerts app).

    database: only the alerts of this monitored database (None: every one).
    """
    from django.db.models import Count

    from perfconsole.alerts.models import Alert, AlertState

    alerts = Alert.objects.exclude(state=AlertState.RESOLVED)
    if database is not None:
        alerts = alerts.filter(database=database)
    rows = alerts.values("rule__severity").annotate(total=Count("id"))
    return {row["rule__severity"]: row["total"] for row in rows}


def scoped_open_alerts(request: HttpRequest) -> dict[str, int]:
    """Return open_alerts() as the alerts list shows them by default.

    The target chosen in the switcher, or every target when none is.
    """
    from perfconsole.history.scoping import chosen_target

    return open_alerts(chosen_target(request))
