"""The admin index opens with a database overview."""

import pytest
from django.db import connection
from django.utils import timezone

from perfconsole.alerts.models import Alert, AlertRule


@pytest.mark.django_db
def test_index_shows_server_figures_and_open_alerts(admin_client):
    rule = AlertRule.objects.order_by("pk").first()
    now = timezone.now()
    Alert.objects.create(
        rule=rule,
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
