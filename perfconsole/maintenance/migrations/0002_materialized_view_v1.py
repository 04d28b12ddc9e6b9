"""Create the SQL view behind MaterializedView from sql/views/ (version 1)."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def read_sql(name):
    """Return one versioned SQL file of this app; applied files never change."""
    return (SQL_DIR / name).read_text()


class Migration(migrations.Migration):
    dependencies = [("maintenance", "0001_initial")]

    operations = [
        migrations.RunSQL(
            read_sql("views/materialized_views_v1.sql"),
            reverse_sql="DROP VIEW IF EXISTS maintenance_materialized_view",
        )
    ]
