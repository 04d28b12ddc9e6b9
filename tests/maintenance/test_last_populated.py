"""A view refreshed outside the console: its page says when its data was written."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from perfconsole.core import formatting
from perfconsole.maintenance.services import (
    data_file_written_at,
    get_materialized_view,
)

from .conftest import execute

pytestmark = pytest.mark.django_db

NO_FILE_ACCESS_ROLE = "perfconsole_mt_no_file_access"


def page_url(name):
    return reverse("admin:maintenance_materializedview_change", args=[name])


def test_a_refresh_by_someone_else_shows_when_the_data_was_written(
    make_view, admin_client
):
    make_view("mt_loaded", populated=False)
    # As the demo-data load does: REFRESH by hand, not through the console.
    execute("REFRESH MATERIALIZED VIEW mt_loaded")

    written_at, unknown = data_file_written_at(get_materialized_view("mt_loaded"))
    page = admin_client.get(page_url("mt_loaded")).text

    assert unknown == ""
    # The file's time has whole seconds.
    assert abs(timezone.now() - written_at) < timedelta(minutes=1)
    assert "Populated</th><td>yes" in page
    assert "Last successful refresh by the console</th><td>none recorded" in page
    assert "never (by the console)" not in page
    assert f"Data last written</th><td>{formatting.timestamp(written_at)}" in page


def test_without_access_to_the_file_the_time_is_unknown(make_view):
    view = get_materialized_view(make_view("mt_private"))
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {NO_FILE_ACCESS_ROLE} NOLOGIN")
        cursor.execute(f"SET ROLE {NO_FILE_ACCESS_ROLE}")
    try:
        written_at, unknown = data_file_written_at(view)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")

    assert written_at is None
    assert unknown == (
        "unknown: reading the data file's time needs superuser or EXECUTE on "
        "pg_stat_file"
    )
