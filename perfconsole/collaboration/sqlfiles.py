"""This app's versioned SQL files, as its migrations and checks load them."""

from perfconsole.core.sqlfiles import SqlFolder

load_sql = SqlFolder(__file__).read
