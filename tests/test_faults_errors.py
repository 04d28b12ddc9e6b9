"""Statistics errors name what happened, not always "unavailable"."""

import threading
import time

import psycopg
import pytest
from django.db import connection

from perfconsole.core.db import (
    StatisticsUnavailable,
    explain_database_error,
    fetch_dicts,
)


def failure(sql):
    with pytest.raises(StatisticsUnavailable) as caught:
        fetch_dicts(sql)
    return str(caught.value)


@pytest.mark.django_db
def test_a_failing_query_names_its_sqlstate_and_error():
    message = failure("SELECT 1 / 0")
    assert message == ("The statistics query failed (SQLSTATE 22012): division by zero")


@pytest.mark.django_db
def test_a_missing_view_says_what_to_run():
    message = failure("SELECT * FROM no_such_statistics_view")
    assert message.startswith("A statistics view is missing or outdated")
    assert "no_such_statistics_view" in message
    assert "python manage.py migrate" in message


def test_an_unreachable_server_says_so():
    params = connection.get_connection_params()
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(host="127.0.0.1", port=1, dbname=params["dbname"])
    message = explain_database_error(caught.value)
    assert message.startswith("The database server could not be reached:")
    assert "127.0.0.1" in message


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_query_says_who_cancelled_it(second_connection):
    canceller = second_connection()
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid

    def cancel_when_sleeping():
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            row = canceller.execute(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity"
                " WHERE pid = %s AND query LIKE %s",
                [pid, "%pg_sleep%"],
            ).fetchone()
            if row:
                return
            time.sleep(0.05)

    thread = threading.Thread(target=cancel_when_sleeping)
    thread.start()
    message = failure("SELECT pg_sleep(4)")
    thread.join()
    assert message == "The statistics query was cancelled by another session."
