"""Bound every request's time on the database, and explain database faults.

Every request runs with ADMIN_STATEMENT_TIMEOUT_MS and ADMIN_LOCK_TIMEOUT_MS.
When one of them stops a statement, the answer is a 503 page naming the
sessions that hold locks on the tables involved, not a hung worker. When the
server cannot be reached, the answer is a 503 page naming the server and
libpq's error within seconds, not a 500 after the pool's DB_POOL_TIMEOUT; the
console recovers by itself once the server accepts connections again.
"""

import logging
import re
import threading
import time
from typing import Protocol, cast

import psycopg
import psycopg_pool
from django.conf import settings
from django.contrib import admin
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    connection,
)
from django.db.transaction import TransactionManagementError
from django.http import HttpResponse
from django.template.loader import render_to_string

from perfconsole.core.db import (
    TOO_MANY_CONNECTIONS,
    StatisticsUnavailable,
    console_connection_params,
    fetch_dicts,
    raw_connection,
    server_gone,
    sqlstate_of,
    stopped_by,
    tag_sql,
)
from perfconsole.core.pages import admin_page_context, render_admin_page
from perfconsole.core.tables import BlockerTable

logger = logging.getLogger(__name__)


class PooledConnection(Protocol):
    """The PostgreSQL backend's pool (Django 5.1+), which django-stubs lacks."""

    pool: psycopg_pool.ConnectionPool | None

    def close_pool(self) -> None: ...


def pooled() -> PooledConnection:
    """Return the default connection as the PostgreSQL backend it is."""
    return cast(PooledConnection, connection)


# libpq's smallest connect_timeout: a probe says "down" within this long.
PROBE_TIMEOUT_SECONDS = 2
# While the pool has no idle connection, a successful probe is trusted this
# long, so a busy pool does not cost a probe per request.
PROBE_INTERVAL_SECONDS = 1.0
RETRY_AFTER_SECONDS = 5
PLAIN_TEMPLATE = "perfconsole/database_fault.html"
ADMIN_TIMEOUT_TEMPLATE = "admin/perfconsole/database_timeout.html"
QUOTED_NAME = re.compile(r'"([^"]+)"')

# Sessions holding (or queued for) a lock, other than a plain reader's, on the
# named tables or their indexes; with no names, the ACCESS EXCLUSIVE ones.
BLOCKERS_SQL = """
SELECT l.pid, l.relation::regclass::text AS relation, l.mode, l.granted,
       a.usename::text AS user_name, a.application_name,
       coalesce(host(a.client_addr), 'local socket') AS client, a.state,
       coalesce(a.xact_start, a.backend_start) AS since, left(a.query, 2000) AS query
  FROM pg_locks l
  LEFT JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'relation'
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND l.pid IS DISTINCT FROM pg_backend_pid()
   AND l.mode <> 'AccessShareLock'
   AND CASE WHEN cardinality(%(names)s::text[]) = 0
            THEN l.mode = 'AccessExclusiveLock'
            ELSE l.relation IN (
                   SELECT c.oid FROM pg_class c WHERE c.relname = ANY(%(names)s::text[])
                   UNION ALL
                   SELECT x.indexrelid FROM pg_index x
                     JOIN pg_class c ON c.oid = x.indrelid
                    WHERE c.relname = ANY(%(names)s::text[]))
       END
 ORDER BY l.granted DESC,
          array_position(ARRAY['AccessExclusiveLock', 'ExclusiveLock',
                               'ShareRowExclusiveLock', 'ShareLock'], l.mode),
          since, l.pid
 LIMIT 50
"""


class ServerHealth:
    """What this process last learnt about the server, shared by its threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.down_error = None
        self.up_at = float("-inf")

    def mark_up(self):
        with self.lock:
            self.down_error = None
            self.up_at = time.monotonic()

    def mark_down(self, error):
        with self.lock:
            self.down_error = error

    def recently_up(self):
        return time.monotonic() - self.up_at < PROBE_INTERVAL_SECONDS


health = ServerHealth()


def probe_server():
    """Connect once with a short timeout; return libpq's error, or None."""
    params = console_connection_params(connect_timeout=PROBE_TIMEOUT_SECONDS)
    try:
        raw_connection(params).close()
    except psycopg.Error as error:
        return str(error).strip() or type(error).__name__
    return None


def drop_pool():
    """Close this process's pool: a new one starts fresh when the server is back.

    psycopg_pool retries a lost server with a growing backoff (up to minutes);
    a new pool connects at once.
    """
    try:
        pooled().close_pool()
    except (KeyError, psycopg.Error):
        pass  # Another thread closed it first.


def server_down(error):
    """Remember that the server is unreachable and return the reason."""
    health.mark_down(error)
    drop_pool()
    return error


def check_before_request():
    """Return why the server is unreachable, or None; probe only when in doubt.

    A connection already open (tests, a shell) or an idle one in the pool
    needs no probe: its first statement tells. Without an idle connection
    the pool would wait DB_POOL_TIMEOUT for a server that may be down.
    """
    if connection.connection is not None:
        return None
    if health.down_error is None:
        pool = pooled().pool
        if pool is None or health.recently_up():
            return None
        if pool.get_stats().get("pool_available", 0) > 0:
            return None
    error = probe_server()
    if error is None:
        health.mark_up()
        return None
    return server_down(error)


def is_unreachable(error):
    """Return True if the error says the server (not a statement) failed."""
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    if isinstance(error.__cause__, psycopg_pool.PoolTimeout | psycopg_pool.PoolClosed):
        return True
    sqlstate = sqlstate_of(error)
    # Out of connection slots: unreachable too, for a request.
    return server_gone(sqlstate) or sqlstate == TOO_MANY_CONNECTIONS


def apply_limits():
    """Set the request's timeouts on the connection; return the previous ones."""
    with connection.cursor() as cursor:
        cursor.execute(
            tag_sql(
                "SELECT current_setting('statement_timeout'),"
                " current_setting('lock_timeout'),"
                " set_config('statement_timeout', %s, false),"
                " set_config('lock_timeout', %s, false)"
            ),
            [
                f"{settings.ADMIN_STATEMENT_TIMEOUT_MS}ms",
                f"{settings.ADMIN_LOCK_TIMEOUT_MS}ms",
            ],
        )
        return cursor.fetchone()[:2]


def restore_limits(previous):
    """Put the connection's timeouts back, unless it is a pooled web one.

    In the web process every request sets them again, so pooled connections
    keep them; elsewhere (tests, a shell) the connection outlives the request.
    """
    if settings.PROCESS_KIND == "web" or connection.connection is None:
        return
    if connection.needs_rollback or connection.connection.closed:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                tag_sql(
                    "SELECT set_config('statement_timeout', %s, false),"
                    " set_config('lock_timeout', %s, false)"
                ),
                list(previous),
            )
    except DatabaseError:
        logger.warning("could not restore the connection's timeouts", exc_info=True)


def server_description():
    """Return host:port/database and role of the default database, no password."""
    db = connection.settings_dict
    host = db.get("HOST") or "local socket"
    port = db.get("PORT") or 5432
    return {
        "server": f"{host}:{port}",
        "database": db.get("NAME") or "",
        "role": db.get("USER") or "",
    }


def unavailable_response(reason, *, busy=False):
    """Render the database-unavailable page; it needs no database at all."""
    if busy:
        title = "Database busy"
        summary = (
            f"No database connection became free within {settings.DB_POOL_TIMEOUT} s "
            f"(at most {settings.DB_POOL_MAX} per web process, DB_POOL_MAX)."
        )
    else:
        title = "Database unavailable"
        summary = "The console cannot reach its PostgreSQL server."
    context = {
        "title": title,
        "summary": summary,
        "detail": reason,
        "advice": "This page works again as soon as the server accepts "
        "connections; the console does not need a restart.",
        **server_description(),
    }
    return plain_response(context)


def plain_response(context):
    response = HttpResponse(render_to_string(PLAIN_TEMPLATE, context), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def blocking_sessions(statement):
    """Return the sessions locking the tables the statement named, or why not."""
    names = sorted(set(QUOTED_NAME.findall(statement or "")))
    try:
        rows = fetch_dicts(BLOCKERS_SQL, {"names": names})
        if not rows and names:
            rows = fetch_dicts(BLOCKERS_SQL, {"names": []})
    except TransactionManagementError:
        # The failed statement broke an enclosing transaction (ATOMIC_REQUESTS).
        return [], "The locks could not be read in the failed transaction."
    except StatisticsUnavailable as error:
        return [], f"The locks could not be read: {error}"
    return rows, ""


def timeout_context(error, statement):
    """Say which limit stopped the request and who holds the locks."""
    stopped = stopped_by(error)
    message = str(error.__cause__ or error).strip().splitlines()[0]
    if stopped == "lock timeout":
        summary = (
            "This page waited longer than ADMIN_LOCK_TIMEOUT_MS "
            f"({settings.ADMIN_LOCK_TIMEOUT_MS} ms) for a lock another session "
            "holds, and was stopped instead of hanging."
        )
    elif stopped == "statement timeout":
        summary = (
            "A statement of this page ran longer than ADMIN_STATEMENT_TIMEOUT_MS "
            f"({settings.ADMIN_STATEMENT_TIMEOUT_MS} ms) and was stopped."
        )
    else:
        summary = "A statement of this page was cancelled by another session."
    blockers, blockers_error = blocking_sessions(statement)
    return {
        "title": "Database busy",
        "summary": summary,
        "detail": message,
        "blockers": BlockerTable(blockers) if blockers else blockers,
        "blockers_error": blockers_error,
        "advice": "Retry once the blocking session has finished; a DBA can end "
        "it from Live activity.",
        **server_description(),
    }


def timeout_response(request, error, statement):
    """Render the timeout page in the admin look, or plain if that fails too."""
    context = timeout_context(error, statement)
    try:
        admin_context = admin_page_context(admin.site, request, **context)
        response = render_admin_page(
            request, ADMIN_TIMEOUT_TEMPLATE, admin_context, status=503
        )
    except (DatabaseError, TransactionManagementError):
        # The locked table may be one the admin look itself reads (sessions,
        # users): the plain page needs no database.
        return plain_response(context)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseFaultsMiddleware:
    """Give every request the admin limits; answer database faults with a 503.

    It sits before the session and authentication middleware: their lazy
    database reads happen inside views, whose errors reach process_exception.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        reason = check_before_request()
        if reason is not None:
            return unavailable_response(reason)
        try:
            previous = self.start()
        except DatabaseError as error:
            response = self.process_exception(request, error)
            if response is None:
                raise
            return response

        def remember(execute, sql, params, many, context):
            # A lock timeout's page names the tables of the stopped statement.
            request.database_statement = sql
            return execute(sql, params, many, context)

        try:
            with connection.execute_wrapper(remember):
                return self.get_response(request)
        finally:
            restore_limits(previous)

    def start(self):
        """Apply the limits; retry once if a stale pooled connection failed."""
        try:
            previous = apply_limits()
        except DatabaseError as error:
            if not is_unreachable(error) or connection.in_atomic_block:
                raise
            # Server restarted or an idle connection was cut: if the server
            # answers, drop the stale connections and take a fresh one.
            if probe_server() is not None:
                raise
            connection.close()
            pool = pooled().pool
            if pool is not None:
                pool.check()
            previous = apply_limits()
        health.mark_up()
        return previous

    def process_exception(self, request, exception):
        if not isinstance(exception, DatabaseError):
            return None
        if stopped_by(exception) is not None:
            statement = getattr(request, "database_statement", "")
            return timeout_response(request, exception, statement)
        if not is_unreachable(exception):
            return None
        reason = probe_server()
        if reason is not None:
            return unavailable_response(server_down(reason))
        busy = isinstance(exception.__cause__, psycopg_pool.PoolTimeout)
        return unavailable_response(str(exception).strip(), busy=busy)
