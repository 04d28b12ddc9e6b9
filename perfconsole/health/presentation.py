"""Turn check results and session rows into tables for the templates."""

from decimal import Decimal

# Columns whose text is SQL or a query: shown preformatted (and escaped).
SQL_COLUMNS = ("query", "definition", "blocked_query", "blocking_query")


def _kind(key, value):
    if key in SQL_COLUMNS or key.endswith("_definition"):
        return "sql"
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return "num"
    return "text"


def table(rows):
    """Return {"columns": [...], "rows": [[(value, kind), ...], ...]}."""
    if not rows:
        return {"columns": [], "rows": []}
    columns = list(rows[0])
    if "subject" in columns:
        columns.remove("subject")
        columns.insert(0, "subject")
    return {
        "columns": [column.replace("_", " ") for column in columns],
        "rows": [
            [(row.get(column), _kind(column, row.get(column))) for column in columns]
            for row in rows
        ],
    }
