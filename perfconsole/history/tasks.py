"""Background tasks of the statistics history (run by the django-q2 cluster)."""


def collect_statistics():
    """Collect every monitored database that is due (every minute).

    The console's own database is collected here; each other target gets a
    collect_target task of its own (dispatch.dispatch).
    """
    from .collector import console_database
    from .dispatch import dispatch

    # The console's own database exists before anything is configured.
    console_database()
    return dispatch()


def collect_target(pk):
    """Collect one monitored database (queued by collect_statistics)."""
    from .dispatch import collect_target as collect

    return collect(pk)


def rollup_statistics():
    """Roll raw deltas into hours and hours into days (hourly)."""
    from .rollups import rollup_all

    return str(rollup_all())


def prune_statistics():
    """Delete the history past each level's retention (hourly)."""
    from .rollups import prune_all

    return str(prune_all())
