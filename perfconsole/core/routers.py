"""Send analytics reads to the replica when one is configured."""

from django.conf import settings
from django.db import connections


def analytics_alias():
    """Return the database alias for analytics reads: the replica if any."""
    return "replica" if "replica" in connections.databases else "default"


class AnalyticsReplicaRouter:
    """Route reads of the models in ANALYTICS_MODELS to the `replica` alias.

    Everything else, and every write, stays on `default`. Statistics pages
    read `default` on purpose: statistics are per server.
    """

    def db_for_read(self, model, **hints):
        # Django's database cache routes a stand-in model without a label.
        if getattr(model._meta, "label", None) in settings.ANALYTICS_MODELS:
            return analytics_alias()
        return None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        # The replica mirrors the primary: objects from either may relate.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
