"""The registry of health checks: each one declared once, beside its function.

A check is a plain function decorated with `health_check(...)`, which records
its key, title, the impact and recommendation the analyzer shows, the fields
of the rows it returns and which of them measures how much a row matters.
Modules of checks are imported from their app's `AppConfig.ready()`; the
health page, the `healthcheck` command and the analyzer read the registry, in
registration order.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured

from perfconsole.core.db import StatisticsUnavailable
from perfconsole.core.ownership import include_console_tables, is_console_table

OK, WARNING, CRITICAL = "ok", "warning", "critical"
SEVERITY = {OK: 0, WARNING: 1, CRITICAL: 2}

# The monitored database the checks judge: its connection alias and its
# MonitoredDatabase (None: the console's own). Checks take no arguments, so
# run_all_checks() sets it around them (checking()).
_CHECKED: ContextVar[tuple[str, object]] = ContextVar(
    "health_checked", default=("default", None)
)


@contextmanager
def checking(alias: str, database: object) -> Iterator[None]:
    """Run the checks of the block on the database behind the alias."""
    token = _CHECKED.set((alias, database))
    try:
        yield
    finally:
        _CHECKED.reset(token)


def checked_alias() -> str:
    """Return the connection alias of the database the checks judge."""
    return _CHECKED.get()[0]


def checked_database():
    """Return the MonitoredDatabase the checks judge (None: the console's own)."""
    return _CHECKED.get()[1]


@dataclass
class Outcome:
    """What a check function finds; the registry adds the check's key and title."""

    status: str
    summary: str
    rows: list[dict] = field(default_factory=list)
    fix_sql: list[str] = field(default_factory=list)


@dataclass
class CheckResult:
    """What one health check found."""

    key: str
    title: str
    status: str
    summary: str
    rows: list[dict] = field(default_factory=list)
    fix_sql: list[str] = field(default_factory=list)
    # Set when the statistics could not be read; status is then "warning".
    error: str = ""

    @property
    def severity(self):
        return SEVERITY[self.status]


@dataclass(frozen=True)
class Check:
    """A registered health check: its function and everything said about it.

    `fields` are the keys of every row the check returns; `weight` names the
    one whose value orders the analyzer's findings (bigger first), or is None
    when the rows have no such measure. `database_wide` checks judge the
    whole server or database: their rows only explain the one finding.
    """

    key: str
    title: str
    impact: str
    recommendation: str
    fields: tuple[str, ...]
    function: object
    weight: str | None = None
    database_wide: bool = False

    def __call__(self, include_console=None):
        """Run the check; StatisticsUnavailable propagates.

        Rows about the console's own tables are left out unless
        include_console (default: the HEALTH_INCLUDE_CONSOLE_TABLES setting).
        """
        outcome = self.function()
        if include_console is None:
            include_console = include_console_tables()
        if not include_console and not self.database_wide:
            outcome = without_console_rows(outcome)
        return CheckResult(
            self.key,
            self.title,
            outcome.status,
            outcome.summary,
            outcome.rows,
            outcome.fix_sql,
        )

    def row_weight(self, row):
        """Return the row's weight as a float (0 without a numeric weight)."""
        value = row.get(self.weight) if self.weight else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return 0.0


def row_table(row):
    """Return the table a check's row concerns (its subject for table checks)."""
    return str(row.get("table_name") or row.get("subject") or "")


def without_console_rows(outcome):
    """Return the outcome without rows (and fix SQL) about the console's tables.

    The framework's tables are not the product's problem: a fresh install
    would otherwise warn about Django's own auth_* indexes.
    """
    hidden = [row for row in outcome.rows if is_console_table(row_table(row))]
    if not hidden:
        return outcome
    kept = [row for row in outcome.rows if row not in hidden]
    fix_sql = outcome.fix_sql
    if len(fix_sql) == len(outcome.rows):
        # One statement per row: keep those of the rows kept.
        fix_sql = [
            sql for sql, row in zip(fix_sql, outcome.rows, strict=True) if row in kept
        ]
    if not kept:
        return Outcome(
            OK,
            "Nothing found outside the console's own tables "
            f"({len(hidden)} hidden: show the console's own tables to see them).",
        )
    # Rows listed only to say why their object stays (an unused index that
    # serves a foreign key) are no problem once the others are hidden.
    status = OK if all(row.get("keep_because") for row in kept) else outcome.status
    return Outcome(
        status,
        f"{outcome.summary} ({len(hidden)} about the console's own tables "
        "hidden; the rows below are the others.)",
        kept,
        fix_sql,
    )


_CHECKS: dict[str, Check] = {}


def register(check):
    """Add a check to the registry; refuse an incomplete or repeated one."""
    for name in ("key", "title", "impact", "recommendation"):
        if not getattr(check, name).strip():
            raise ImproperlyConfigured(f"Health check {check.key!r} has no {name}.")
    if not check.fields:
        raise ImproperlyConfigured(f"Health check {check.key!r} declares no fields.")
    if check.weight is not None and check.weight not in check.fields:
        raise ImproperlyConfigured(
            f"Health check {check.key!r} weighs {check.weight!r}, which is not "
            f"one of its fields: {', '.join(check.fields)}."
        )
    if check.key in _CHECKS:
        raise ImproperlyConfigured(f"Health check {check.key!r} is registered twice.")
    _CHECKS[check.key] = check
    return check


def health_check(**metadata):
    """Register the decorated function as a check; return the Check.

    The Check is callable like the function was, and returns a CheckResult.
    """

    def decorator(function):
        return register(Check(function=function, **metadata))

    return decorator


def registered_checks():
    """Return every registered check in registration order."""
    return list(_CHECKS.values())


def get_check(key):
    """Return the check registered under `key` (KeyError if there is none)."""
    return _CHECKS[key]


def run_all_checks(checks=None, include_console=None, scope=None):
    """Run every registered check (or the given ones); unavailable ones say so.

    Never raises StatisticsUnavailable: that check's result is a warning with
    the reason in `summary` and `error`. include_console: see Check.__call__.
    scope (history.scoping.Scope): the monitored database to judge, the
    console's own when None.
    """
    results = []
    checks = checks or registered_checks()
    try:
        alias = scope.alias if scope is not None else checked_alias()
    except StatisticsUnavailable as error:
        # The target cannot even be named a connection (its password).
        return [unavailable(check, scope.unavailable(error)) for check in checks]
    database = scope.other_target if scope is not None else checked_database()
    with checking(alias, database):
        for check in checks:
            try:
                results.append(check(include_console))
            except StatisticsUnavailable as error:
                message = scope.unavailable(error) if scope else str(error)
                results.append(unavailable(check, message))
    return results


def unavailable(check, message):
    """Return a check's result when its statistics cannot be read."""
    return CheckResult(check.key, check.title, WARNING, message, error=message)


def overall_status(results):
    """Return the worst status among the results."""
    return max(
        (result.status for result in results), key=SEVERITY.__getitem__, default=OK
    )
