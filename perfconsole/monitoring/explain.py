"""Plan a monitored statement: EXPLAIN only, never ANALYZE, never as the console.

Planning runs code chosen by any database user: the planner evaluates
IMMUTABLE and STABLE functions (in the text, in a view, in an index
predicate) while it plans. So a monitored statement is planned on a
connection of its own, opened for one plan as a dedicated role that has no
right on the console (README: "EXPLAIN of a monitored statement"), in a
read-only transaction with a timeout, and closed afterwards: no session state
a function leaves behind (advisory locks, set_config(..., false), prepared
statements) outlives the plan, and the console's pooled connections never
see the text. SET ROLE would not do: a function can RESET ROLE.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import sqlparse
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connections
from pglast.keywords import RESERVED_KEYWORDS
from psycopg import sql

from perfconsole.collaboration.models import ROLLUP_TABLES
from perfconsole.core.db import generic_plan, raw_connection, tag_sql
from perfconsole.core.ownership import MONITORED_APPS, console_tables
from perfconsole.history.connections import PasswordMissing, connection_alias
from perfconsole.monitoring.plantree import PlanNode, plan_tree

# pg_stat_statements replaces constants with $1, $2, ...
PARAMETER = re.compile(r"\$\d+\b")
PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]*")
# The role of the embedded server's explain connection, and the suggested
# name elsewhere.
EXPLAIN_ROLE = "perfconsole_explain"
# Roles whose membership would give the explain role power over others.
POWERFUL_ROLES = [
    "pg_signal_backend",
    "pg_read_all_data",
    "pg_write_all_data",
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
]
# Seconds the watchdog waits past the statement timeout before it ends a
# backend that ignores the timeout (a function can catch query_canceled).
WATCHDOG_GRACE_SECONDS = 2


class ExplainUnavailable(Exception):
    """No plan can be made: explain is off, misconfigured or refused."""


@dataclass
class Plan:
    """A plan's text and tree (plantree.PlanNode), or the reason there is none."""

    text: str = ""
    message: str = ""
    generic: bool = False
    tree: PlanNode | None = None


def single_statement(text):
    """Return the one statement in text without its ';', or None."""
    statements = [s.strip().rstrip(";").strip() for s in sqlparse.split(text)]
    statements = [s for s in statements if s]
    return statements[0] if len(statements) == 1 else None


def statement_type(statement):
    """Return SELECT, INSERT, COPY, ... ; WITH ... SELECT counts as SELECT."""
    kind = sqlparse.parse(statement)[0].get_type()
    if kind == "UNKNOWN":
        # sqlparse knows DML and DDL only; name the others by their keyword.
        kind = sqlparse.format(statement, strip_comments=True).split(None, 1)[0]
    return kind.upper()


def parameter_count(statement):
    """Return the highest $n in the statement (0 without parameters)."""
    return max((int(p[1:]) for p in PARAMETER.findall(statement)), default=0)


# -- the explain role and its tables ------------------------------------------


def monitored_tables():
    """Return the monitored application's tables and views (the explain role's)."""
    tables = [
        model._meta.db_table
        for label in sorted(MONITORED_APPS)
        for model in apps.get_app_config(label).get_models()
    ]
    return tables + list(ROLLUP_TABLES)


def explain_role():
    """Return the role monitored statements are planned as."""
    try:
        params = _url_parameters(settings.EXPLAIN_DATABASE_URL or "")
    except ExplainUnavailable:
        params = {}  # said where the connection is made
    return params.get("user") or EXPLAIN_ROLE


def role_setup_sql(role=None, tables=None):
    """Return the SQL that creates the explain role and grants what it may read."""
    role = role or explain_role()
    statements = [
        f"CREATE ROLE {_ident(role)} LOGIN NOINHERIT NOSUPERUSER NOCREATEDB "
        "NOCREATEROLE NOREPLICATION NOBYPASSRLS",
        f"GRANT USAGE ON SCHEMA public TO {_ident(role)}",
    ]
    for table in tables if tables is not None else monitored_tables():
        statements.append(f"GRANT SELECT ON {_ident(table)} TO {_ident(role)}")
    return statements


def enable_hint():
    """Return how to turn plans on for a server the console does not run."""
    recipe = ";\n".join(role_setup_sql()) + ";"
    return (
        "Plans are off: set EXPLAIN_DATABASE_URL to a login role that has no "
        "right on the console's tables, e.g. "
        f"postgresql://{EXPLAIN_ROLE}:password@host:5432/dbname, created by a "
        f"superuser with:\n{recipe}\nALTER ROLE {_ident(EXPLAIN_ROLE)} "
        "PASSWORD '...';"
    )


def _ident(name):
    # Plain names stay readable in the recipe; others are quoted.
    if PLAIN_NAME.fullmatch(name) and name not in RESERVED_KEYWORDS:
        return name
    return sql.Identifier(name).as_string()


# -- the explain connection ---------------------------------------------------


def _url_parameters(url):
    try:
        return psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as error:
        raise ExplainUnavailable(
            f"EXPLAIN_DATABASE_URL cannot be parsed: {error}"
        ) from None


def target_parameters(database):
    """Return where the explain role connects on a monitored target.

    The target's server and database, as the explain role (the same name as
    on the console's server), its password from libpq's password or service
    file: the target's own password belongs to the console's role there.
    """
    params = {"user": explain_role(), "dbname": database.dbname}
    for key in ("host", "service", "sslmode"):
        if getattr(database, key):
            params[key] = getattr(database, key)
    if database.port:
        params["port"] = str(database.port)
    return params


def connection_parameters(database=None):
    """Return the connection arguments of the explain role's connection.

    Not the console's (core.db.console_connection_params): another role, its
    own URL, and limits of its own. Given a monitored target (not the
    console's own database), the connection goes to that target.
    """
    console = connections["default"].settings_dict
    if database is not None and not database.is_console_database:
        params = target_parameters(database)
        dbname = database.dbname or None
    elif settings.EXPLAIN_DATABASE_URL:
        params = _url_parameters(settings.EXPLAIN_DATABASE_URL)
    elif settings.EMBEDDED_DATABASE:
        # The embedded server trusts 127.0.0.1: the role needs no password.
        params = {
            "host": console["HOST"],
            "port": console["PORT"],
            "user": EXPLAIN_ROLE,
        }
    else:
        raise ExplainUnavailable(enable_hint())
    if database is None or database.is_console_database:
        # Always the console's database (the test database under pytest):
        # the statement is one of this database's.
        dbname = console["NAME"]
    timeout = settings.MONITORING_EXPLAIN_TIMEOUT_MS
    limits = (
        "-c default_transaction_read_only=on"
        f" -c statement_timeout={timeout}"
        f" -c lock_timeout={settings.MONITORING_LOCK_TIMEOUT_MS}"
    )
    if dbname:
        params["dbname"] = dbname
    params.update(
        application_name="perfconsole-explain",
        # After the URL's own options, so the limits win.
        options=f"{params.get('options', '')} {limits}".strip(),
    )
    params.setdefault("connect_timeout", settings.DB_CONNECT_TIMEOUT)
    return params


class ExplainSession:
    """A cursor on the explain connection whose statements a watchdog limits."""

    def __init__(self, conn, params):
        self.conn = conn
        self.params = params
        self.cursor = conn.cursor()
        self.server_version = conn.info.server_version
        self.stopped = False

    def execute(self, statement, params=None):
        """Run one statement, tagged; end the backend if it outlives its timeout.

        The tag keeps the console's statements out of query statistics.
        """
        seconds = settings.MONITORING_EXPLAIN_TIMEOUT_MS / 1000
        watchdog = threading.Timer(seconds + WATCHDOG_GRACE_SECONDS, self._terminate)
        watchdog.start()
        try:
            self.cursor.execute(tag_sql(statement), params)
        finally:
            watchdog.cancel()
        return self.cursor

    def _terminate(self):
        # A function can catch the statement timeout's cancel in a loop; ending
        # the backend cannot be caught. A role may end its own backends, so the
        # explain role does it, not the console.
        self.stopped = True
        try:
            with raw_connection(self.params) as killer:
                killer.execute(
                    tag_sql("SELECT pg_terminate_backend(%s)"),
                    [self.conn.info.backend_pid],
                )
        except psycopg.Error:
            pass


@contextmanager
def explain_session(database=None):
    """Yield an ExplainSession in a read-only transaction, closed afterwards.

    Raise ExplainUnavailable when plans are off, the connection fails or the
    role has rights it must not have. database: a monitored target, or None
    for the console's own database.
    """
    params = connection_parameters(database)
    try:
        # Autocommit: the console sends BEGIN and ROLLBACK itself, tagged.
        conn = raw_connection(params)
    except psycopg.Error as error:
        if database is not None and not database.is_console_database:
            recipe = "; ".join(role_setup_sql(params["user"], tables=[]))
            raise ExplainUnavailable(
                f"Cannot connect as the explain role {params['user']!r} to "
                f"{database.name}: {_first_line(error)}. Create it there as a "
                f"superuser ({recipe}; then GRANT SELECT on the tables its "
                "statements read) and give its password through libpq's "
                'password file (README: "Every monitoring page per target").'
            ) from None
        raise ExplainUnavailable(
            f"Cannot connect as the explain role {params.get('user')!r}: "
            f"{_first_line(error)}. Run `manage.py setupexplainrole` (README: "
            '"EXPLAIN of a monitored statement").'
        ) from None
    session = ExplainSession(conn, params)
    try:
        # READ ONLY here: the session default alone could be changed by SET.
        session.execute("BEGIN READ ONLY")
        refuse_powerful_role(session, monitoring_role(database))
        yield session
    finally:
        _end(session)


def _end(session):
    """Close the explain connection, its advisory locks released first."""
    # Closing ends the session: advisory locks, settings and prepared
    # statements a planned function left behind end with it. The backend
    # exits a moment after the client leaves, so locks are released now.
    try:
        session.execute("ROLLBACK")
        session.execute("SELECT pg_advisory_unlock_all()")
    except psycopg.Error:
        pass  # ended by the watchdog, or broken: nothing left to release
    session.conn.close()


def console_role(using="default"):
    """Return the console's session role (on a target: the one it reads as)."""
    connection = connections[using]
    connection.ensure_connection()
    return connection.connection.info.user


def monitoring_role(database=None):
    """Return the role the console reads a database as: the explain role's betters.

    Raises ExplainUnavailable when the target cannot be reached.
    """
    if database is None or database.is_console_database:
        return console_role()
    try:
        return console_role(connection_alias(database))
    except (PasswordMissing, DatabaseError) as error:
        raise ExplainUnavailable(
            f"Not explained: {database.name} cannot be reached: {error}"
        ) from None


def refuse_powerful_role(session, console=None):
    """Raise ExplainUnavailable if the explain role could act as the console.

    console is the role the console reads the database as (console_role()).
    """
    console = console or console_role()
    row = session.execute(
        "SELECT session_user, r.rolsuper OR r.rolcreaterole OR r.rolbypassrls,"
        " session_user = %(console)s"
        "  OR pg_has_role(session_user, %(console)s, 'MEMBER'),"
        " (SELECT array_agg(p) FROM unnest(%(powerful)s::text[]) AS p"
        "   WHERE to_regrole(p) IS NOT NULL"
        "     AND pg_has_role(session_user, p, 'MEMBER')),"
        " (SELECT array_agg(t) FROM unnest(%(tables)s::text[]) AS t"
        "   WHERE to_regclass(quote_ident(t)) IS NOT NULL"
        "     AND has_table_privilege(quote_ident(t),"
        "         'SELECT, INSERT, UPDATE, DELETE, TRUNCATE'))"
        " FROM pg_roles AS r WHERE r.rolname = session_user",
        {
            "console": console,
            "powerful": POWERFUL_ROLES,
            "tables": sorted(console_tables()),
        },
    ).fetchone()
    role, privileged, console_member, roles, tables = row
    problem = None
    if console_member:
        problem = f"it is, or is a member of, the console's role {console}"
    elif privileged:
        problem = "it is a superuser or has CREATEROLE or BYPASSRLS"
    elif roles:
        problem = f"it is a member of {', '.join(roles)}"
    elif tables:
        problem = f"it has rights on the console's tables {', '.join(tables)}"
    if problem:
        raise ExplainUnavailable(
            f"Not explained: the explain connection's role {role} is refused, "
            f"because {problem}. Plans run code any database user can write, "
            "so they need a role without rights on the console "
            '(README: "EXPLAIN of a monitored statement").'
        )


# -- the query page's plan ----------------------------------------------------


def refusal(statement):
    """Return why a statement is not explained, or None for one SELECT.

    statement is single_statement()'s answer: None for a text of several.
    """
    if statement is None:
        return "Not explained: the text holds more than one statement."
    kind = statement_type(statement)
    if kind != "SELECT":
        return (
            f"Not explained: only SELECT and WITH … SELECT statements are "
            f"explained, and this one is {kind}. The console sends only "
            "read-only statements to the server."
        )
    return None


def explain_statement(text, database=None):
    """Return the plan of a monitored statement, made by the explain role.

    database: the monitored target the statement ran on (None: the console's).
    """
    statement = single_statement(text)
    message = refusal(statement)
    if message:
        return Plan(message=message)
    parameters = parameter_count(statement)
    generic = parameters > 0
    session = None
    try:
        with explain_session(database) as session:
            rows = generic_plan(session, statement, parameters)
            # The same plan again as JSON, drawn as a tree on the page.
            explained = generic_plan(session, statement, parameters, "JSON")
    except ExplainUnavailable as error:
        return Plan(message=str(error), generic=generic)
    except psycopg.Error as error:
        stopped = session is not None and session.stopped
        return Plan(message=explain_failure(error, stopped), generic=generic)
    return Plan(
        text="\n".join(row[0] for row in rows),
        generic=generic,
        tree=plan_tree(explained[0][0]),
    )


def explain_failure(error, stopped=False):
    """Say why EXPLAIN failed, naming the grant when one is missing."""
    timeout = settings.MONITORING_EXPLAIN_TIMEOUT_MS
    if stopped:
        return (
            f"Cannot be explained: planning ignored its {timeout} ms timeout "
            "and its connection was ended."
        )
    detail = _first_line(error)
    if error.sqlstate == "42501":
        role = explain_role()
        return (
            f"Cannot be explained: {detail}. Plans are made as the role {role}, "
            "which needs SELECT on the tables the statement reads: GRANT SELECT "
            f"ON <table> TO {role} (and USAGE on its schema). Grant only the "
            "monitored application's tables, never the console's."
        )
    if error.sqlstate == "57014":
        return f"Cannot be explained: planning took longer than {timeout} ms."
    return f"Cannot be explained: {detail}"


def _first_line(error):
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
