"""The admin login, the replica router and the admin login command."""

from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connections

from perfconsole.core.routers import AnalyticsReplicaRouter


def _model(label):
    return SimpleNamespace(_meta=SimpleNamespace(label=label))


@pytest.mark.django_db
def test_admin_login_page_renders(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b'name="password"' in response.content


@pytest.mark.django_db
def test_admin_redirects_anonymous_users_to_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_router_sends_analytics_reads_to_the_replica(monkeypatch):
    router = AnalyticsReplicaRouter()
    analytics = _model("collaboration.TeamProductivityAnalytics")
    other = _model("collaboration.Study")

    assert router.db_for_read(analytics) == "default"  # no replica configured

    databases = {**connections.databases, "replica": {"TEST": {"MIRROR": "default"}}}
    monkeypatch.setattr(connections, "_settings", databases)
    monkeypatch.setattr(
        type(connections), "databases", property(lambda self: databases)
    )
    assert router.db_for_read(analytics) == "replica"
    assert router.db_for_read(other) is None
    assert router.db_for_write(analytics) == "default"
    assert router.allow_migrate("replica", "collaboration") is False
    assert router.allow_migrate("default", "collaboration") is True


@pytest.mark.django_db
def test_ensureadmin_uses_the_environment(monkeypatch, django_user_model, capsys):
    monkeypatch.setenv("CONSOLE_ADMIN_USER", "dba")
    monkeypatch.setenv("CONSOLE_ADMIN_PASSWORD", "correct horse")
    call_command("ensureadmin")
    user = django_user_model.objects.get(username="dba")
    assert user.is_superuser and user.check_password("correct horse")
    assert "Login: dba" in capsys.readouterr().out
