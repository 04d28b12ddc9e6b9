"""The refreshables the console's apps register besides materialized views.

Materialized views are found in the catalog. Anything else an app keeps up to
date by a rebuild (a summary table, say) is registered here from the
app's AppConfig.ready(); the console then lists it beside the views, refreshes
it under its advisory lock with history and audit, and alerts on it.

The list of views is one SQL view, so the registered names are written to a
table (maintenance_registered_refreshable) after every migrate, as Django
writes content types and permissions; the SQL view reads each one's state
from the SQL function it names.
"""

from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections

# The kind of what the catalog lists; a registered refreshable has another.
MATERIALIZED_VIEW = "materialized view"

_registered = {}


class DuplicateRefreshable(ValueError):
    """A refreshable of this name is registered already."""


@dataclass(frozen=True)
class Refreshable:
    """Something the console refreshes that is not a materialized view.

    name: listed, recorded in the history and passed to refreshviews --view.
    kind: shown in the list (e.g. "summary table").
    statements: SQL run in order on the refresh's own autocommit session,
        under the refreshable's advisory lock.
    state_function: a SQL function without arguments returning one row
        (populated boolean, size_bytes bigint, row_estimate bigint,
        owner name) for the list; without it those show as unknown.
    description: how it is refreshed, on its page.
    """

    name: str
    kind: str
    statements: tuple[str, ...]
    state_function: str = ""
    description: str = ""

    def __post_init__(self):
        if not self.name or self.kind == MATERIALIZED_VIEW or not self.statements:
            raise ValueError(
                f"A refreshable needs a name, a kind other than "
                f"{MATERIALIZED_VIEW!r} and statements; got {self!r}."
            )


def register(refreshable):
    """Register a refreshable; refuse a second one of the same name."""
    if refreshable.name in _registered:
        raise DuplicateRefreshable(
            f"A refreshable named {refreshable.name!r} is registered already."
        )
    _registered[refreshable.name] = refreshable
    return refreshable


def unregister(name):
    """Forget a registered refreshable (tests register their own)."""
    _registered.pop(name, None)


def get(name):
    """Return the refreshable registered under this name, or None."""
    return _registered.get(name)


def registered():
    """Return every registered refreshable, by name."""
    return [_registered[name] for name in sorted(_registered)]


def write_registered(using=DEFAULT_DB_ALIAS, **kwargs):
    """Write the registered refreshables to the table the SQL view lists.

    Connected to post_migrate; does nothing before the table exists.
    """
    from .models import RegisteredRefreshable

    table = RegisteredRefreshable._meta.db_table
    if table not in connections[using].introspection.table_names():
        return
    rows = RegisteredRefreshable.objects.using(using)
    rows.exclude(name__in=list(_registered)).delete()
    for refreshable in registered():
        rows.update_or_create(
            name=refreshable.name,
            defaults={
                "kind": refreshable.kind,
                "state_function": refreshable.state_function,
            },
        )
