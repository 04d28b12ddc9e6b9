"""Live activity and locks of the current database, and cancel / terminate.

Reads go through `perfconsole.core.db.fetch_dicts` (tagged, read-only, with
timeouts). Sessions of the console itself (application_name starting with
`perfconsole-`, or queries carrying the tag) are left out unless asked for,
and its connections are never cancelled or terminated from here.
"""

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection, transaction

from perfconsole.core.db import QUERY_TAG, fetch_dicts, tag_sql
from perfconsole.health.models import Activity

# Query text is cut to this many characters on the pages.
QUERY_CHARS = 10_000

SESSION_COLUMNS = f"""
    pid, usename::text AS user_name, application_name,
    coalesce(host(client_addr), 'local socket') AS client, backend_type, state,
    round(extract(epoch FROM now() - coalesce(query_start, xact_start))::numeric, 1)
      AS duration_sec,
    round(extract(epoch FROM now() - xact_start)::numeric, 1) AS xact_sec,
    wait_event_type, wait_event, left(query, {QUERY_CHARS}) AS query"""

# Every connection the console opens is named perfconsole-<kind> (web,
# qcluster, command, test, refresh): see config.env.database_from_url. A
# DATABASE_URL may choose another name, so this connection's own name counts
# too. Ending one of them would break a page, a task or a refresh mid-work.
CONSOLE_PREFIX = "perfconsole-"
CONSOLE_SESSION = (
    "(pid = pg_backend_pid()"
    f" OR starts_with(coalesce(application_name, ''), '{CONSOLE_PREFIX}')"
    " OR application_name = nullif(current_setting('application_name'), ''))"
)
# The tag is inside the console's statements (core.db.tag_sql), not in front.
CONSOLE_FILTER = f"NOT ({CONSOLE_SESSION} OR strpos(query, %s) > 0)"


def sessions(include_console=False):
    """Return the non-idle sessions of this database, longest running first."""
    where = "datname = current_database() AND state <> 'idle'"
    where += " AND pid <> pg_backend_pid()"
    params = []
    if not include_console:
        where += f" AND {CONSOLE_FILTER}"
        params = [QUERY_TAG]
    return fetch_dicts(
        f"""SELECT {SESSION_COLUMNS}, pg_blocking_pids(pid) AS blocked_by,
                   {CONSOLE_SESSION} AS is_console
              FROM pg_stat_activity
             WHERE {where}
             ORDER BY duration_sec DESC NULLS LAST, pid
             LIMIT 500""",
        params,
    )


def idle_in_transaction(min_seconds):
    """Return sessions of this database idle in a transaction this long."""
    return fetch_dicts(
        f"""SELECT {SESSION_COLUMNS},
                   round(extract(epoch FROM now() - state_change)::numeric, 1)
                     AS idle_sec
              FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND state IN ('idle in transaction', 'idle in transaction (aborted)')
               AND now() - state_change >= make_interval(secs => %s)
             ORDER BY idle_sec DESC
             LIMIT 100""",
        [min_seconds],
    )


def long_running(min_seconds):
    """Return client queries of this database running at least this long."""
    return fetch_dicts(
        f"""SELECT {SESSION_COLUMNS}
              FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND backend_type = 'client backend'
               AND state NOT IN ('idle', 'idle in transaction',
                                 'idle in transaction (aborted)')
               AND now() - coalesce(query_start, xact_start)
                   >= make_interval(secs => %s)
             ORDER BY duration_sec DESC
             LIMIT 100""",
        [min_seconds],
    )


def blocking_pairs():
    """Return one row per (blocked, blocking) session pair in this database."""
    # Only sessions waiting on a heavyweight lock can be blocked; asking
    # pg_blocking_pids for them alone keeps the lock manager quiet.
    return fetch_dicts(
        f"""SELECT w.pid AS blocked_pid, w.usename::text AS blocked_user,
                   round(extract(epoch FROM now()
                         - coalesce(w.query_start, w.xact_start))::numeric, 1)
                     AS waiting_sec,
                   w.wait_event_type, w.wait_event,
                   left(w.query, {QUERY_CHARS}) AS blocked_query,
                   b.pid AS blocking_pid, b.usename::text AS blocking_user,
                   b.application_name AS blocking_application,
                   b.state AS blocking_state,
                   round(extract(epoch FROM now() - b.xact_start)::numeric, 1)
                     AS blocking_xact_sec,
                   left(b.query, {QUERY_CHARS}) AS blocking_query
              FROM pg_stat_activity w
             CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS bp(pid)
              JOIN pg_stat_activity b ON b.pid = bp.pid
             WHERE w.datname = current_database() AND w.wait_event_type = 'Lock'
             ORDER BY waiting_sec DESC, w.pid, b.pid
             LIMIT 200"""
    )


# -- cancel and terminate ---------------------------------------------------

ACTIONS = {
    "cancel": {
        "function": "pg_cancel_backend",
        "permission": "health.cancel_backend",
        "done": "Cancelled the query of",
    },
    "terminate": {
        "function": "pg_terminate_backend",
        "permission": "health.terminate_backend",
        "done": "Terminated",
    },
}


class ActionRefused(Exception):
    """A cancel or terminate was not sent; the message says why."""


def actions_enabled():
    """Say whether cancel and terminate are turned on."""
    return getattr(settings, "ACTIVITY_ACTIONS_ENABLED", True)


def allowed_actions(user):
    """Return the actions this user may run (none when turned off)."""
    if not actions_enabled():
        return []
    return [name for name, spec in ACTIONS.items() if user.has_perm(spec["permission"])]


def _target_session(pid):
    rows = fetch_dicts(
        f"""SELECT pid, usename::text AS user_name, application_name,
                   left(query, {QUERY_CHARS}) AS query,
                   pid = pg_backend_pid() AS is_own,
                   {CONSOLE_SESSION} AS is_console
              FROM pg_stat_activity
             WHERE pid = %s AND datname = current_database()
               AND backend_type = 'client backend'""",
        [pid],
    )
    return rows[0] if rows else None


def _send_signal(function, pid):
    """Call pg_cancel_backend / pg_terminate_backend; return whether it was sent."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                tag_sql("SELECT set_config('statement_timeout', %s, true)"),
                [f"{settings.MONITORING_STATEMENT_TIMEOUT_MS}ms"],
            )
            cursor.execute(tag_sql(f"SELECT {function}(%s)"), [pid])
            return cursor.fetchone()[0]
    except DatabaseError as error:
        sqlstate = getattr(error.__cause__, "sqlstate", None)
        if sqlstate == "42501":
            role = connection.settings_dict["USER"] or "<console role>"
            raise ActionRefused(
                f"The console's database role may not signal pid {pid}: "
                f"GRANT pg_signal_backend TO {role} (a superuser's sessions can "
                "only be signalled by a superuser)."
            ) from error
        raise ActionRefused(f"Could not signal pid {pid}: {error}") from error


def signal_backend(user, pid, action):
    """Cancel or terminate one session of this database and log it.

    Refuses (ActionRefused) when actions are turned off, the user lacks the
    permission, the pid is not a client session of this database, or it is
    one of the console's own connections (CONSOLE_SESSION). Returns a
    sentence saying what was done.
    """
    spec = ACTIONS.get(action)
    if spec is None:
        raise ActionRefused(f"Unknown action {action!r}.")
    if not actions_enabled():
        raise ActionRefused(
            "Cancel and terminate are turned off (ACTIVITY_ACTIONS_ENABLED)."
        )
    if not user.has_perm(spec["permission"]):
        raise ActionRefused(f"You need the permission {spec['permission']}.")
    session = _target_session(pid)
    if session is None:
        raise ActionRefused(f"No client session with pid {pid} in this database.")
    if session["is_own"]:
        raise ActionRefused("That is the console's own session.")
    if session["is_console"]:
        raise ActionRefused(
            f"pid {pid} is one of the console's own connections (application "
            f"{session['application_name']!r}); ending it would break the "
            "console's pages or tasks mid-work, so it is not signalled."
        )
    if not _send_signal(spec["function"], pid):
        raise ActionRefused(f"pid {pid} had already ended.")
    message = f"{spec['done']} pid {pid}"
    _log(
        user,
        pid,
        f"{message} ({session['user_name']}, "
        f"{session['application_name'] or 'no application'}): {session['query']}",
    )
    return f"{message}."


def _log(user, pid, change_message):
    """Record the action in the admin log."""
    LogEntry.objects.create(
        user_id=user.pk,
        content_type=ContentType.objects.get_for_model(Activity),
        object_id=str(pid),
        object_repr=f"pid {pid}",
        action_flag=CHANGE,
        change_message=change_message,
    )
