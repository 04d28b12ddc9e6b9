"""This app's versioned SQL files, as its migrations load them."""

from perfconsole.collaboration import operations
from perfconsole.core.sqlfiles import SqlFolder

read_sql = SqlFolder(__file__).read


class BuildIndexConcurrently(operations.BuildIndexConcurrently):
    """Build one of the history's indexes concurrently from its SQL file."""

    read_sql = staticmethod(read_sql)
