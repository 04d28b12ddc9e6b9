"""Which tables are the console's own, so lists can lead with the product's.

The monitored product is the collaboration app; every other installed app's
tables (the console's, Django's, django-q2's), the migration history and the
database cache tables belong to the console. Lists, health checks and the
analyzer hide them unless asked (HEALTH_INCLUDE_CONSOLE_TABLES or a page's
switch).
"""

from __future__ import annotations

from functools import cache

from django.apps import apps
from django.conf import settings

# The app whose schema the console monitors; its tables are never hidden.
MONITORED_APPS = frozenset({"collaboration"})
# Tables Django makes that no model declares.
FRAMEWORK_TABLES = frozenset({"django_migrations"})
DATABASE_CACHE = "django.core.cache.backends.db.DatabaseCache"


@cache
def console_tables() -> frozenset[str]:
    """Return the names of the console's and the framework's own tables.

    Derived from the app registry: every model's table (many-to-many tables
    included) of an app other than the monitored product, plus the
    migration history and the database cache tables.
    """
    names = set(FRAMEWORK_TABLES)
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label not in MONITORED_APPS:
            names.add(model._meta.db_table)
    for cache_settings in settings.CACHES.values():
        if cache_settings.get("BACKEND") == DATABASE_CACHE:
            names.add(cache_settings["LOCATION"])
    return frozenset(names)


def is_console_table(name: str) -> bool:
    """Return True if a table name, bare or schema-qualified, is the console's."""
    return name.rpartition(".")[2].strip('"') in console_tables()


def include_console_tables() -> bool:
    """Return whether health checks and the analyzer look at the console's tables."""
    return bool(getattr(settings, "HEALTH_INCLUDE_CONSOLE_TABLES", False))
