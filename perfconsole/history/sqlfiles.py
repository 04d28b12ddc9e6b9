"""This app's versioned SQL files, as its migrations load them."""

from perfconsole.core.sqlfiles import SqlFolder

read_sql = SqlFolder(__file__).read
