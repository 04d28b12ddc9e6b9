"""Background tasks of the statistics history (run by the django-q2 cluster)."""


def collect_statistics():
    """Take one snapshot of every monitored database's statistics."""
    from .collector import collect, console_database

    # Today only the console's own database; more servers add rows here.
    database = console_database()
    return f"{database.name}: {collect(database).describe()}"


def rollup_statistics():
    """Roll raw deltas into hours and hours into days (hourly)."""
    from .rollups import rollup_all

    return str(rollup_all())


def prune_statistics():
    """Delete the history past each level's retention (hourly)."""
    from .rollups import prune_all

    return str(prune_all())
