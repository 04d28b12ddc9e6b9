"""Live activity and locks of the current database, and cancel / terminate.

Every function takes `using`, the alias of the monitored database it reads
or signals (history.connections.connection_alias; "default" is the
console's own), so a page shows and acts on the target it was asked for.

Reads go through `perfconsole.core.db.fetch_dicts` (tagged, read-only, with
timeouts). Sessions of the console itself (application_name starting with
`perfconsole-`, or queries carrying the tag) are left out unless asked for,
and its connections are never cancelled or terminated from here.
"""

from django.conf import settings
from django.db import DatabaseError, connections, transaction

from perfconsole.core.admin import log_console_change
from perfconsole.core.db import (
    QUERY_TAG,
    fetch_dicts,
    limit_transaction,
    sqlstate_of,
    tag_sql,
)
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
# When a session entered its state: its query's start while active, the end
# of its last query while idle.
STATE_SINCE = "coalesce(a.state_change, a.query_start, a.backend_start)"


# Sessions by what a DBA looks at first: running, then stuck in a
# transaction, then idle.
STATE_ORDER = """CASE a.state WHEN 'active' THEN 0
                   WHEN 'idle in transaction (aborted)' THEN 1
                   WHEN 'idle in transaction' THEN 2
                   WHEN 'idle' THEN 4 ELSE 3 END"""

# The lock a waiting session asks for, one row per waiting pid. A row lock
# wait is a wait for the holder's transaction id; the row's table is then
# the one of the tuple lock the waiter already holds.
LOCK_WAITS = """
    SELECT DISTINCT ON (l.pid) l.pid AS waiting_pid, l.mode, l.locktype,
           coalesce(l.relation, t.relation)::regclass::text AS relation,
           l.transactionid::text AS transactionid
      FROM pg_locks AS l
      LEFT JOIN pg_locks AS t
        ON t.pid = l.pid AND t.locktype = 'tuple' AND t.granted
     WHERE NOT l.granted AND l.pid IS NOT NULL
     ORDER BY l.pid"""

# Filters of sessions(): name -> SQL condition on pg_stat_activity a.
SESSION_STATES = {
    "active": "a.state = 'active'",
    "waiting": "a.wait_event_type = 'Lock'",
    "in_transaction": "a.state LIKE 'idle in transaction%%'",
    "idle": "a.state = 'idle'",
    "not_idle": "a.state IS DISTINCT FROM 'idle'",
}


def databases(using="default"):
    """Return the names of the databases sessions may connect to."""
    rows = fetch_dicts(
        "SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname",
        using=using,
    )
    return [row["datname"] for row in rows]


def sessions(
    include_console=False,
    *,
    state="",
    user="",
    application="",
    database="",
    min_seconds=None,
    using="default",
):
    """Return the sessions of a database, running first, then by duration.

    state is a key of SESSION_STATES ("" for every session, idle ones
    included); user matches exactly, application as a case-insensitive part;
    database "" is this one, "*" every database; min_seconds keeps sessions
    in their state at least this long. A session waiting for a lock names the
    lock's mode and relation (lock_mode, lock_relation).
    """
    where = ["a.pid <> pg_backend_pid()", "a.backend_type = 'client backend'"]
    params = []
    if database == "*":
        where.append("a.datname IS NOT NULL")
    elif database:
        where.append("a.datname = %s")
        params.append(database)
    else:
        where.append("a.datname = current_database()")
    if state:
        where.append(SESSION_STATES[state])
    if user:
        where.append("a.usename = %s")
        params.append(user)
    if application:
        where.append("strpos(lower(a.application_name), lower(%s)) > 0")
        params.append(application)
    if min_seconds:
        where.append(f"now() - {STATE_SINCE} >= make_interval(secs => %s)")
        params.append(min_seconds)
    if not include_console:
        where.append(CONSOLE_FILTER)
        params.append(QUERY_TAG)
    return fetch_dicts(
        f"""WITH waits AS MATERIALIZED ({LOCK_WAITS})
            SELECT a.pid, a.datname::text AS database_name,
                   a.usename::text AS user_name, a.application_name,
                   coalesce(host(a.client_addr), 'local socket') AS client,
                   a.backend_type, a.state, {STATE_SINCE} AS since,
                   round(extract(epoch FROM now() - {STATE_SINCE})::numeric, 1)
                     AS duration_sec,
                   round(extract(epoch FROM now() - a.xact_start)::numeric, 1)
                     AS xact_sec,
                   a.wait_event_type, a.wait_event,
                   w.mode AS lock_mode, w.locktype AS lock_type,
                   w.relation AS lock_relation,
                   w.transactionid AS lock_transaction,
                   left(a.query, {QUERY_CHARS}) AS query,
                   CASE WHEN a.wait_event_type = 'Lock'
                        THEN pg_blocking_pids(a.pid) END AS blocked_by,
                   a.datname = current_database() AS in_this_database,
                   {CONSOLE_SESSION} AS is_console
              FROM pg_stat_activity AS a
              LEFT JOIN waits AS w ON w.waiting_pid = a.pid
             WHERE {" AND ".join(where)}
             ORDER BY {STATE_ORDER}, duration_sec DESC NULLS LAST, a.pid
             LIMIT 500""",
        params,
        using=using,
    )


def lock_description(row):
    """Say which lock a session waits for: mode, and relation or transaction."""
    mode, kind = row.get("lock_mode"), row.get("lock_type")
    if not mode:
        return ""
    if kind == "relation":
        return f"{mode} on {row['lock_relation']}"
    if kind in ("transactionid", "tuple") and row.get("lock_relation"):
        return f"{mode} on a row of {row['lock_relation']}"
    if kind == "transactionid":
        return f"{mode} on transaction {row['lock_transaction']}"
    if row.get("lock_relation"):
        return f"{mode} on {kind} of {row['lock_relation']}"
    return f"{mode} on {kind}"


def idle_in_transaction(min_seconds, using="default"):
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
        using=using,
    )


def long_running(min_seconds, using="default"):
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
        using=using,
    )


def blocking_pairs(using="default"):
    """Return one row per (blocked, blocking) session pair in this database.

    Each row says which lock the blocked session waits for (waiting_for:
    mode and relation, see lock_description).
    """
    # Only sessions waiting on a heavyweight lock can be blocked; asking
    # pg_blocking_pids for them alone keeps the lock manager quiet.
    rows = fetch_dicts(
        f"""WITH waits AS MATERIALIZED ({LOCK_WAITS})
            SELECT w.pid AS blocked_pid, w.usename::text AS blocked_user,
                   round(extract(epoch FROM now()
                         - coalesce(w.query_start, w.xact_start))::numeric, 1)
                     AS waiting_sec,
                   w.wait_event_type, w.wait_event,
                   l.mode AS lock_mode, l.locktype AS lock_type,
                   l.relation AS lock_relation,
                   l.transactionid AS lock_transaction,
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
              LEFT JOIN waits AS l ON l.waiting_pid = w.pid
             WHERE w.datname = current_database() AND w.wait_event_type = 'Lock'
             ORDER BY waiting_sec DESC, w.pid, b.pid
             LIMIT 200""",
        using=using,
    )
    return [_with_lock_named(row) for row in rows]


def _with_lock_named(row):
    """Say a pair's lock columns in one sentence, after its wait event."""
    named = {}
    for key, value in row.items():
        if key.startswith("lock_"):
            continue
        named[key] = value
        if key == "wait_event":
            named["waiting_for"] = lock_description(row)
    return named


# -- progress of maintenance commands -----------------------------------------

# One SELECT per pg_stat_progress_* view, on the columns PostgreSQL 14 to 18
# share; "done" and "total" are the unit of work the current phase counts.
PROGRESS_VIEWS = """
SELECT pid, relid, 'VACUUM' AS command, phase,
       CASE WHEN phase = 'vacuuming heap' THEN heap_blks_vacuumed
            ELSE heap_blks_scanned END AS done,
       heap_blks_total AS total, 'heap blocks' AS unit
  FROM pg_stat_progress_vacuum WHERE datname = current_database()
UNION ALL
SELECT pid, relid, 'ANALYZE', phase, sample_blks_scanned, sample_blks_total,
       'sample blocks'
  FROM pg_stat_progress_analyze WHERE datname = current_database()
UNION ALL
SELECT pid, relid, command, phase,
       CASE WHEN blocks_total > 0 THEN blocks_done
            WHEN tuples_total > 0 THEN tuples_done
            ELSE lockers_done END,
       CASE WHEN blocks_total > 0 THEN blocks_total
            WHEN tuples_total > 0 THEN tuples_total
            ELSE lockers_total END,
       CASE WHEN blocks_total > 0 THEN 'blocks'
            WHEN tuples_total > 0 THEN 'tuples'
            ELSE 'lockers' END
  FROM pg_stat_progress_create_index WHERE datname = current_database()
UNION ALL
SELECT pid, relid, command, phase, heap_blks_scanned, heap_blks_total,
       'heap blocks'
  FROM pg_stat_progress_cluster WHERE datname = current_database()"""


def progress(using="default"):
    """Return running VACUUM, ANALYZE, CREATE INDEX and CLUSTER commands.

    One row each: pid, command, relation, phase, work done of total in its
    unit, percent done (None while the phase counts nothing), running time
    and query.
    """
    return fetch_dicts(
        f"""SELECT p.pid, p.command, p.relid::regclass::text AS relation,
                   p.phase, p.done, p.total, p.unit,
                   CASE WHEN p.total > 0
                        THEN round(100.0 * p.done / p.total, 1) END AS percent,
                   round(extract(epoch FROM now()
                         - coalesce(a.query_start, a.backend_start))::numeric, 1)
                     AS duration_sec,
                   left(a.query, {QUERY_CHARS}) AS query
              FROM ({PROGRESS_VIEWS}) AS p
              LEFT JOIN pg_stat_activity AS a ON a.pid = p.pid
             ORDER BY duration_sec DESC NULLS LAST, p.pid""",
        using=using,
    )


# -- cancel and terminate ---------------------------------------------------

ACTIONS = {
    "cancel": {
        "function": "pg_cancel_backend",
        "permission": "health.cancel_backend",
        "done": "Cancelled the query of",
        # What must not have changed since the confirmation: the query.
        "key": "query_key",
    },
    "terminate": {
        "function": "pg_terminate_backend",
        "permission": "health.terminate_backend",
        "done": "Terminated",
        # The session: a pid is reused by a later connection.
        "key": "session_key",
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


def target_session(pid, using="default"):
    """Return the client session of this database with this pid, or None."""
    rows = fetch_dicts(
        f"""SELECT pid, usename::text AS user_name, application_name,
                   coalesce(host(client_addr), 'local socket') AS client,
                   state, {STATE_SINCE} AS since,
                   left(query, {QUERY_CHARS}) AS query,
                   backend_start::text AS session_key,
                   backend_start::text || ' ' || coalesce(query_start::text, '')
                     AS query_key,
                   pid = pg_backend_pid() AS is_own,
                   {CONSOLE_SESSION} AS is_console
              FROM pg_stat_activity AS a
             WHERE pid = %s AND datname = current_database()
               AND backend_type = 'client backend'""",
        [pid],
        using=using,
    )
    return rows[0] if rows else None


def _send_signal(function, pid, using="default"):
    """Call pg_cancel_backend / pg_terminate_backend; return whether it was sent."""
    connection = connections[using]
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            limit_transaction(cursor, read_only=False)
            cursor.execute(tag_sql(f"SELECT {function}(%s)"), [pid])
            return cursor.fetchone()[0]
    except DatabaseError as error:
        sqlstate = sqlstate_of(error)
        if sqlstate == "42501":
            role = connection.settings_dict["USER"] or "<console role>"
            raise ActionRefused(
                f"The console's database role may not signal pid {pid}: "
                f"GRANT pg_signal_backend TO {role} (a superuser's sessions can "
                "only be signalled by a superuser)."
            ) from error
        raise ActionRefused(f"Could not signal pid {pid}: {error}") from error


def signal_target(user, pid, action, expected="", using="default"):
    """Return the session a cancel or terminate would reach, or refuse.

    Refuses (ActionRefused) when actions are turned off, the user lacks the
    permission, the pid is not a client session of this database, it is one
    of the console's own connections (CONSOLE_SESSION), or, given expected
    (the key shown on the confirmation), it runs another query or is
    another session now.
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
    session = target_session(pid, using)
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
    if expected and session[spec["key"]] != expected:
        now = "runs another query" if action == "cancel" else "is another connection"
        raise ActionRefused(
            f"pid {pid} has moved on since the confirmation: it {now} now. "
            "Nothing was sent; look at it again."
        )
    return session


def signal_backend(user, pid, action, expected="", using="default", target=""):
    """Cancel or terminate one session of this database and log it.

    Refuses as signal_target() does. target names the monitored database
    the alias reaches, in the sentence and the admin log. Returns a sentence
    saying what was done.
    """
    session = signal_target(user, pid, action, expected, using)
    spec = ACTIONS[action]
    if not _send_signal(spec["function"], pid, using):
        raise ActionRefused(f"pid {pid} had already ended.")
    message = f"{spec['done']} pid {pid}"
    if target:
        message += f" on {target}"
    log_console_change(
        user,
        Activity,
        str(pid),
        f"pid {pid} on {target}" if target else f"pid {pid}",
        f"{message} ({session['user_name']}, "
        f"{session['application_name'] or 'no application'}): {session['query']}",
    )
    return f"{message}."
