"""Fixtures of the benchmark tests: small demo data, a catalog snapshot."""

import pytest
from django.db import connection

from perfconsole.collaboration.demo import SCALES, load_demo


@pytest.fixture
def small_demo(db):
    """Load the small demo scale (10 000 memberships, 20 000 activity rows)."""
    return load_demo(SCALES["small"], seed=1)


@pytest.fixture
def catalog():
    """Return a function giving the schema of the collaboration tables.

    It lists every index and constraint with its definition and validity,
    so any index left dropped, added or rebuilt shows as a difference.
    """

    def snapshot():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname, i.relname, pg_get_indexdef(x.indexrelid),"
                "       x.indisvalid, x.indisready, i.oid"
                "  FROM pg_index AS x"
                "  JOIN pg_class AS i ON i.oid = x.indexrelid"
                "  JOIN pg_class AS c ON c.oid = x.indrelid"
                "  JOIN pg_namespace AS n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema()"
                " ORDER BY 1, 2"
            )
            indexes = cursor.fetchall()
            cursor.execute(
                "SELECT conrelid::regclass::text, conname,"
                "       pg_get_constraintdef(oid), convalidated"
                "  FROM pg_constraint"
                " WHERE connamespace = current_schema()::regnamespace"
                " ORDER BY 1, 2"
            )
            return indexes, cursor.fetchall()

    return snapshot
