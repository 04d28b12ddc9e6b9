"""Gather the few numbers the admin index shows before anything else."""

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


def server_overview():
    """Return server figures, or {'error': reason} when they cannot be read."""
    try:
        server = fetch_dicts(SERVER_SQL)[0]
        server["cache_hit_pct"] = cache_hits()["database"].pct
    except StatisticsUnavailable as error:
        return {"error": str(error)}
    return server


def open_alerts():
    """Return counts of open alerts by severity (empty without the alerts app)."""
    from django.db.models import Count

    from perfconsole.alerts.models import Alert, AlertState

    rows = (
        Alert.objects.exclude(state=AlertState.RESOLVED)
        .values("rule__severity")
        .annotate(total=Count("id"))
    )
    return {row["rule__severity"]: row["total"] for row in rows}
