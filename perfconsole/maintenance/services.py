"""Refresh materialized views (and what apps register) safely, with history.

A refresh runs on its own database session, which holds a PostgreSQL advisory
lock for the view while it works: two refreshes of one view never overlap, on
any machine, and the second is recorded as skipped. REFRESH ... CONCURRENTLY is
used whenever PostgreSQL allows it, so readers are never blocked.

The lock is held from before the history row says "running" until after the
row records the outcome, so a running row whose backend does not hold the
lock has lost its worker: settle_refreshes() marks it failed wherever rows
are read. Only the views the console manages (its own, by default) are
refreshed; the others are listed read-only. The refreshables the apps register
(registry.py) are listed, refreshed and recorded the same way.
"""

import time
from contextlib import closing
from datetime import timedelta

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_q.brokers import Broker
from django_q.conf import Conf
from django_q.status import Stat
from django_q.tasks import async_task
from psycopg import sql

from perfconsole.core.db import (
    console_connection_params,
    fetch_dicts,
    monitoring_cursor,
    raw_connection,
    tag_sql,
)

from . import registry
from .models import MaterializedView, ViewRefresh
from .registry import MATERIALIZED_VIEW

REFRESH_LOCK_PREFIX = "perfconsole.refresh:"
ENQUEUE_LOCK_PREFIX = "perfconsole.enqueue:"
REFRESH_TASK = "perfconsole.maintenance.tasks.refresh_view_task"

Status = ViewRefresh.Status


class RefreshRefused(ValueError):
    """A refresh was not started or queued; the message says why."""


class UnknownView(RefreshRefused):
    """No materialized view has this name."""


class ViewNotManaged(RefreshRefused):
    """The console lists this view but does not refresh it."""


def list_materialized_views():
    """Return every materialized view and registered refreshable, with its state.

    Each row is a MaterializedView: name, populated, size_bytes, row_estimate,
    has_unique_index, last_status, last_finished_at, last_duration_ms,
    last_error, last_success_at, age, in_progress. Raises StatisticsUnavailable
    when the catalog cannot be read in time.
    """
    with monitoring_cursor():
        return list(
            MaterializedView.objects.raw(
                "SELECT * FROM maintenance_materialized_view ORDER BY name"
            )
        )


def managed_views():
    """Return the views (and registered refreshables) the console refreshes."""
    return [view for view in list_materialized_views() if view.managed]


def get_materialized_view(name):
    """Return one materialized view by name (as listed, or schema.name)."""
    with monitoring_cursor():
        found = list(
            MaterializedView.objects.raw(
                "SELECT * FROM maintenance_materialized_view "
                "WHERE name = %s OR schema_name || '.' || view_name = %s",
                [name, name],
            )
        )
    if not found:
        raise UnknownView(f"There is no materialized view named {name!r}.")
    return found[0]


# PostgreSQL records no refresh time. A refresh, by anyone, writes the view's
# data file (a plain REFRESH makes a new one), so the file's modification time
# is an upper bound of the latest refresh. pg_stat_file is for superusers and
# roles granted EXECUTE on it; for others the time stays unknown. Its
# privilege is checked before the call: a query that names a function it may
# not execute fails even in a branch that never runs.
STAT_FILE = "pg_catalog.pg_stat_file(text, boolean)"
DATA_FILE_SQL = """
SELECT (pg_stat_file(pg_relation_filepath(c.oid), true)).modification
         AS written_at
  FROM pg_class c
 WHERE c.oid = to_regclass(format('%%I.%%I', %s::text, %s::text))
"""


def data_file_written_at(view):
    """Return (moment, reason) of the last write of the view's data file.

    The moment is None when it cannot be read; the reason then says why.
    """
    allowed = fetch_dicts(
        "SELECT has_function_privilege(%s, 'EXECUTE') AS allowed", [STAT_FILE]
    )[0]["allowed"]
    if not allowed:
        return None, (
            "unknown: reading the data file's time needs superuser or EXECUTE "
            "on pg_stat_file"
        )
    rows = fetch_dicts(DATA_FILE_SQL, [view.schema_name, view.view_name])
    if not rows or rows[0]["written_at"] is None:
        return None, "unknown: the view has no data file"
    return rows[0]["written_at"], ""


def get_managed_view(name):
    """Return one view the console refreshes; raise if it only lists it."""
    view = get_materialized_view(name)
    if not view.managed:
        raise ViewNotManaged(
            f"{view.name} is listed read-only: {view.unmanaged_reason}."
        )
    return view


def cluster_status():
    """Return (alive, description) of the task clusters django-q2 records.

    Each cluster writes its Stat to the shared "tasks" cache every half
    second with a 3 s lifetime, so only a live cluster is found.
    """
    # The base Broker only reads the stats cache. The configured ORM broker
    # would close "old" connections first, ending this request's connection
    # (and its temporary tables and session state) halfway through.
    clusters = [
        stat
        for stat in Stat.get_all(broker=Broker())
        if stat.status in (Conf.IDLE, Conf.WORKING, Conf.STARTING)
    ]
    if not clusters:
        return False, "No task cluster is alive (start it with manage.py qcluster)."
    workers = sum(len(stat.workers) for stat in clusters)
    hosts = ", ".join(sorted({stat.host for stat in clusters}))
    return True, (
        f"Task cluster alive: {len(clusters)} cluster(s), {workers} worker(s) "
        f"on {hosts}."
    )


def request_refresh(name, trigger, user=None):
    """Queue a refresh of one view unless one is queued or running already.

    Return (refresh, created). Requests for one view are serialised by a
    transaction-level advisory lock, so two presses at the same moment still
    queue one refresh. Raises ViewNotManaged for a view listed read-only.
    With no task cluster alive the refresh is queued all the same (a cluster
    restarting for a deploy runs it); settle_refreshes() marks it failed if
    none comes within MAINTENANCE_QUEUE_WAIT_SECONDS.
    """
    view_name = get_managed_view(name).name
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                tag_sql("SELECT pg_advisory_xact_lock(hashtext(%s))"),
                [ENQUEUE_LOCK_PREFIX + view_name],
            )
        settle_refreshes(view_name)
        current = (
            ViewRefresh.objects.filter(
                view_name=view_name, status__in=ViewRefresh.IN_PROGRESS
            )
            .order_by("requested_at")
            .first()
        )
        if current is not None:
            return current, False
        refresh = ViewRefresh.objects.create(
            view_name=view_name,
            trigger=trigger,
            triggered_by=user,
            status=Status.QUEUED,
        )
        # The task row commits with the history row: a worker can never pick
        # up a task whose history row does not exist yet.
        refresh.task_id = async_task(
            REFRESH_TASK,
            view_name,
            trigger,
            refresh_id=refresh.pk,
            task_name=f"refresh {view_name} #{refresh.pk}"[:100],
            group="refresh",
        )
        ViewRefresh.objects.filter(pk=refresh.pk).update(task_id=refresh.task_id)
    refresh.refresh_from_db()
    return refresh, True


def settle_refreshes(view_name=None, cluster_alive=None):
    """Mark queued or running rows that no worker will finish as failed.

    Call it wherever rows are read, so such a row never blocks a refresh nor
    raises an alert as "running". Return how many rows were marked.

    Running rows are judged by their view's lock (fail_orphaned_refreshes),
    queued ones by how long they have waited: past
    MAINTENANCE_QUEUE_WAIT_SECONDS with no cluster alive to run them, or past
    the task timeout and retry (a task is killed after Q_CLUSTER's timeout
    and handed out again after its retry, so a row still queued after both
    has lost its task, even with a cluster alive).
    """
    if cluster_alive is None:
        cluster_alive, _ = cluster_status()
    marked = fail_orphaned_refreshes(view_name)
    if not cluster_alive:
        wait = settings.MAINTENANCE_QUEUE_WAIT_SECONDS
        marked += fail_queued_refreshes(
            wait,
            f"Not run: no task cluster was alive to run it within {wait} s "
            "(MAINTENANCE_QUEUE_WAIT_SECONDS). Start manage.py qcluster, or "
            "run manage.py refreshviews.",
            view_name,
        )
    limit = settings.Q_CLUSTER["timeout"] + settings.Q_CLUSTER["retry"]
    return marked + fail_queued_refreshes(
        limit, f"Abandoned: no worker took this refresh within {limit} s.", view_name
    )


def fail_orphaned_refreshes(view_name=None):
    """Mark running rows whose backend no longer holds the view's lock failed.

    The backend holds the lock for the whole refresh, also when its client
    process was killed and the server is still finishing the statement: such
    a row stays running until the backend ends.
    """
    query = (
        "SELECT id, backend_pid, backend_alive"
        " FROM maintenance_running_refresh WHERE worker_gone"
    )
    params = []
    if view_name is not None:
        query += " AND view_name = %s"
        params.append(view_name)
    with connection.cursor() as cursor:
        cursor.execute(tag_sql(query), params)
        orphans = cursor.fetchall()
    marked = 0
    for pk, pid, alive in orphans:
        backend = f"backend {pid}" if pid else "its backend"
        gone = "still connected without the lock" if alive else "gone"
        # Conditional: the refresh may have recorded its outcome meanwhile.
        marked += ViewRefresh.objects.filter(
            pk=pk, status=Status.RUNNING, backend_pid=pid
        ).update(
            status=Status.FAILED,
            finished_at=timezone.now(),
            error=(
                f"Worker process gone: {backend} is {gone} and the view's "
                "refresh lock is not held by it, so nothing is refreshing "
                "under this row. Whether the refresh committed before the "
                "worker died is unknown."
            ),
        )
    return marked


def fail_queued_refreshes(seconds, error, view_name=None):
    """Mark rows queued more than `seconds` ago failed with this error."""
    unrun = ViewRefresh.objects.filter(
        status=Status.QUEUED,
        requested_at__lt=timezone.now() - timedelta(seconds=seconds),
    )
    if view_name is not None:
        unrun = unrun.filter(view_name=view_name)
    return unrun.update(status=Status.FAILED, finished_at=timezone.now(), error=error)


def refresh_view(name, trigger, user=None, refresh_id=None):
    """Refresh one materialized view now and return its ViewRefresh row.

    With refresh_id, the queued row of that id is taken over; without, a new
    row is written. The refresh is CONCURRENTLY when the view is populated and
    has a usable unique index, plain otherwise; a registered refreshable runs
    its own statements instead. The row says "running" only while this
    session holds the view's lock, and gets its outcome before the session
    ends.
    """
    started = time.monotonic()

    def record(status, view_name, **fields):
        return start_refresh(
            view_name, trigger, user, refresh_id, status=status, **fields
        )

    try:
        # closing(): the session is autocommit, so there is nothing to commit.
        with closing(refresh_session()) as session:
            view = find_view(session, name)
            if not try_refresh_lock(session, view["name"]):
                return finish_refresh(
                    record(Status.SKIPPED, view["name"]),
                    started,
                    Status.SKIPPED,
                    describe_lock_holder(view["name"]),
                )
            # Holding the lock, this session is the only refresh of the view:
            # a row still running for it has lost its worker.
            fail_orphaned_refreshes(view["name"])
            statements, concurrently = refresh_plan(view)
            refresh = record(
                Status.RUNNING,
                view["name"],
                backend_pid=session.info.backend_pid,
                concurrently=concurrently,
            )
            return run_refresh(session, refresh, statements, started)
    except UnknownView as error:
        return finish_refresh(
            record(Status.FAILED, name), started, Status.FAILED, str(error)
        )
    except psycopg.Error as error:
        return finish_refresh(
            record(Status.FAILED, name), started, Status.FAILED, describe_error(error)
        )


def run_refresh(session, refresh, statements, started):
    """Run a refresh's statements and record the outcome on its row."""
    try:
        for statement in statements:
            session.execute(statement)
    except psycopg.Error as error:
        return finish_refresh(refresh, started, Status.FAILED, describe_error(error))
    return finish_refresh(refresh, started, Status.SUCCEEDED)


def refresh_plan(view):
    """Return the statements that refresh one view, and whether concurrently.

    A registered refreshable's statements are its app's; "concurrently" says
    nothing about them.
    """
    if view["kind"] != MATERIALIZED_VIEW:
        refreshable = registry.get(view["name"])
        if refreshable is None:
            raise UnknownView(f"Nothing named {view['name']!r} is registered now.")
        return [tag_sql(statement) for statement in refreshable.statements], None
    concurrently = view["populated"] and view["has_unique_index"]
    return [refresh_statement(view, concurrently)], concurrently


def start_refresh(view_name, trigger, user, refresh_id, status, **fields):
    """Return the history row of this refresh, with its status and fields."""
    now = timezone.now()
    fields.update(view_name=view_name, status=status, started_at=now)
    if refresh_id is not None:
        # Taking over is conditional, so a task delivered twice runs once
        # under this row and once more as a new row (skipped or harmless).
        claimed = ViewRefresh.objects.filter(
            pk=refresh_id, status=Status.QUEUED
        ).update(**fields)
        if claimed:
            return ViewRefresh.objects.get(pk=refresh_id)
    return ViewRefresh.objects.create(
        trigger=trigger, triggered_by=user, requested_at=now, **fields
    )


def finish_refresh(refresh, started, status, error=""):
    """Record the outcome of a refresh and return the row."""
    refresh.status = status
    refresh.error = error
    refresh.finished_at = timezone.now()
    refresh.duration_ms = round((time.monotonic() - started) * 1000)
    refresh.save(update_fields=["status", "error", "finished_at", "duration_ms"])
    return refresh


def refresh_session():
    """Open the refresh's own autocommit session with its time limits.

    A session of its own holds the advisory lock for exactly the length of the
    refresh, also when the web or task process uses a pool or PgBouncer, and
    the lock is released by PostgreSQL if the process dies.
    """
    session = raw_connection(
        console_connection_params(application_name="perfconsole-refresh")
    )
    try:
        session.execute(
            tag_sql(
                "SELECT set_config('statement_timeout', %s, false),"
                " set_config('lock_timeout', %s, false)"
            ),
            [
                f"{settings.MAINTENANCE_REFRESH_STATEMENT_TIMEOUT_MS}ms",
                f"{settings.MAINTENANCE_REFRESH_LOCK_TIMEOUT_MS}ms",
            ],
        )
    except BaseException:
        session.close()
        raise
    return session


def find_view(session, name):
    """Return name, schema, relname, populated, has_unique_index, kind of one."""
    row = session.execute(
        tag_sql(
            "SELECT name, schema_name, view_name, populated,"
            " has_unique_index, kind FROM maintenance_materialized_view"
            " WHERE name = %s OR schema_name || '.' || view_name = %s"
        ),
        [name, name],
    ).fetchone()
    if row is None:
        raise UnknownView(f"There is no materialized view named {name!r}.")
    keys = ("name", "schema_name", "view_name", "populated", "has_unique_index", "kind")
    return dict(zip(keys, row, strict=True))


def describe_lock_holder(view_name):
    """Say which refresh holds a view's lock, for a refresh that was skipped."""
    running = (
        ViewRefresh.objects.filter(view_name=view_name, status=Status.RUNNING)
        .exclude(backend_pid=None)
        .order_by("-started_at")
        .first()
    )
    if running is None:
        return f"Another refresh of {view_name} was running."
    started = timezone.localtime(running.started_at)
    return (
        f"Another refresh of {view_name} was running: #{running.pk}, backend "
        f"{running.backend_pid}, started {started:%Y-%m-%d %H:%M:%S %Z}."
    )


def try_refresh_lock(session, view_name):
    """Take the view's refresh lock for this session; False if it is held."""
    return session.execute(
        tag_sql("SELECT pg_try_advisory_lock(hashtext(%s))"),
        [REFRESH_LOCK_PREFIX + view_name],
    ).fetchone()[0]


def refresh_statement(view, concurrently):
    """Return the REFRESH statement for one view, identifiers quoted."""
    return sql.SQL(tag_sql("REFRESH MATERIALIZED VIEW {mode}{view}")).format(
        mode=sql.SQL("CONCURRENTLY " if concurrently else ""),
        view=sql.Identifier(view["schema_name"], view["view_name"]),
    )


def describe_error(error):
    """Return the database's message for a failed refresh, with its hint."""
    message = (error.diag.message_primary or str(error)).strip()
    if error.sqlstate == "57014":
        message += (
            f" (MAINTENANCE_REFRESH_STATEMENT_TIMEOUT_MS="
            f"{settings.MAINTENANCE_REFRESH_STATEMENT_TIMEOUT_MS})"
        )
    elif error.sqlstate == "55P03":
        message += (
            f" (MAINTENANCE_REFRESH_LOCK_TIMEOUT_MS="
            f"{settings.MAINTENANCE_REFRESH_LOCK_TIMEOUT_MS})"
        )
    if error.diag.message_detail:
        message += f"\n{error.diag.message_detail}"
    return message


def refresh_all_views(trigger):
    """Refresh every managed view and refreshable; return the history rows."""
    return [refresh_view(view.name, trigger) for view in managed_views()]


def prune_history(days=None):
    """Delete finished refresh rows older than `days`; return how many."""
    days = settings.MAINTENANCE_HISTORY_DAYS if days is None else days
    settle_refreshes()
    deleted, _ = (
        ViewRefresh.objects.exclude(status__in=ViewRefresh.IN_PROGRESS)
        .filter(requested_at__lt=timezone.now() - timedelta(days=days))
        .delete()
    )
    return deleted
