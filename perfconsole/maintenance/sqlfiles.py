"""Read the app's versioned SQL files (sql/<kind>/<name>_v<N>.sql)."""

from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"


def read_sql(relpath):
    """Return one versioned SQL file of this app; applied files never change."""
    return (SQL_DIR / relpath).read_text()
