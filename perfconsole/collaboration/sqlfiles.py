"""Read the app's versioned SQL files (sql/<kind>/<name>_v<N>.sql)."""

from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"


def load_sql(relpath: str) -> str:
    """Return the text of one SQL file, without its trailing semicolon/blank."""
    return (SQL_DIR / relpath).read_text().strip().rstrip(";").strip()
