"""The admin index opens with a database overview."""

import re

import pytest
from django.db import connection
from django.utils import timezone

from perfconsole.alerts.models import Alert, AlertRule
from perfconsole.history.collector import console_database


@pytest.mark.django_db
def test_index_shows_server_figures_and_open_alerts(admin_client):
    rule = AlertRule.objects.order_by("pk").first()
    now = timezone.now()
    Alert.objects.create(
        rule=rule,
        database=console_database(),
        subject="public.some_table",
        value=5000,
        first_seen=now,
        last_seen=now,
    )

    response = admin_client.get("/admin/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Database overview" in body
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert f"PostgreSQL {cursor.fetchone()[0]}" in body
    assert f"1 {rule.severity}" in body


@pytest.mark.django_db
def test_uptime_and_size_read_in_units_with_exact_values_on_hover(admin_client):
    body = admin_client.get("/admin/").content.decode()

    uptime = re.search(r'up <span title="([\d.]+) s">([^<]+)</span>', body)
    assert uptime, "the uptime reads in units, its seconds on hover"
    assert re.fullmatch(r"[\d.,]+ (µs|ms|s)|\d+ (min|h|days?) \d+ (s|min|h)", uptime[2])
    assert not re.search(r"up \d+:\d\d:\d\d", body)  # no "0:02:10.246573"
    size = re.search(r'<span title="([\d,]+) bytes">(\d+) (kB|MB|GB)</span>', body)
    assert size, "the database size reads in kB/MB/GB, its bytes on hover"
