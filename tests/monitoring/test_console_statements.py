"""The console's own statements are tagged and left out of the query table.

Real pg_stat_statements: requests through the admin, django-q2's ORM broker
polling as the task cluster does, and new connections; the query table hides
them by default and shows them with its switch.
"""

import pytest
from django.conf import settings
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper
from django.urls import reverse
from django_q.brokers import get_broker

from perfconsole.core.db import raw_connection
from perfconsole.monitoring.models import QueryStat
from tests.conftest import forget_statements_of_this_database

QUERIES = "admin:monitoring_querystat_changelist"
# What Django sends on a new connection whose time zone is not its own.
SET_TIME_ZONE = "SELECT set_config($1, $2, $3)"
CONSOLE_MARKERS = ('"django_q_ormq"', '"auth_user"', '"django_session"')


def console_statements(queryset):
    """Return the texts of statements on the console's and Django's tables."""
    return [
        stat.query
        for stat in queryset
        if any(marker in stat.query for marker in CONSOLE_MARKERS)
    ]


@pytest.mark.django_db(transaction=True)
def test_the_console_statements_are_hidden_unless_asked_for(admin_client):
    # pg_stat_statements keeps the first text of a shape, and the tag is a
    # comment, no part of the shape: a text another test sent untagged (a
    # product-side statement on the same tables) would stand for the console's.
    with raw_connection() as conn:
        forget_statements_of_this_database(conn)
    admin_client.get(reverse("admin:index"))
    admin_client.get(reverse("admin:auth_user_changelist"))
    admin_client.get(reverse("admin:django_q_ormq_changelist"))
    broker = get_broker()
    broker.dequeue()
    broker.queue_size()

    shown = console_statements(QueryStat.objects.with_console())
    assert any('"django_q_ormq"' in text for text in shown), shown
    assert any('"auth_user"' in text for text in shown), shown
    untagged = [text for text in shown if "/* perfconsole */" not in text]
    assert untagged == []
    assert console_statements(QueryStat.objects.all()) == []

    url = reverse(QUERIES)
    hidden = admin_client.get(f"{url}?q=django_q_ormq").content.decode()
    switched = admin_client.get(f"{url}?q=django_q_ormq&console=on").content.decode()
    assert "django_q_ormq" not in hidden.split("<tbody>")[1]
    assert "django_q_ormq" in switched.split("<tbody>")[1]
    assert "Show the console&#x27;s own statements" in hidden


def set_time_zone_calls(conn):
    """Return how often this database ran Django's time zone statement.

    pg_stat_statements keeps the first text of a shape: an earlier tagged
    set_config of the console's may own it, so the text is compared untagged.
    """
    return conn.execute(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname ="
        " current_database())"
        " AND regexp_replace(query, '\\s*/\\*.*?\\*/', '', 'g') = %s",
        [SET_TIME_ZONE],
    ).fetchone()[0]


def open_and_query(options):
    """Open a Django connection with these OPTIONS, run one statement, close."""
    options = {k: v for k, v in options.items() if k != "pool"}
    wrapper = DatabaseWrapper({**connection.settings_dict, "OPTIONS": options})
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        wrapper.close()


@pytest.mark.django_db(transaction=True)
def test_new_connections_send_no_time_zone_statement(second_connection):
    conn = second_connection()
    database = connection.settings_dict["NAME"]
    # A server whose zone is not Django's, as on a machine outside UTC.
    conn.execute(f"ALTER DATABASE \"{database}\" SET timezone = 'Asia/Tokyo'")
    try:
        options = settings.DATABASES["default"]["OPTIONS"]
        before = set_time_zone_calls(conn)
        open_and_query(options)
        assert set_time_zone_calls(conn) == before
        # Without the console's connection options Django sends it.
        open_and_query({k: v for k, v in options.items() if k != "options"})
        assert set_time_zone_calls(conn) == before + 1
    finally:
        conn.execute(f'ALTER DATABASE "{database}" RESET timezone')
