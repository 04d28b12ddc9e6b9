"""The 403 page in the admin's look, and an index that links only to pages
the user may open."""

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse

from perfconsole.core.forbidden import permission_denied

pytestmark = pytest.mark.django_db


def grant(user, app_label, codename):
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )


def assert_admin_look(response):
    content = response.content.decode()
    assert '<div id="site-name">' in content  # the console's branding
    assert 'id="logout-form"' in content  # the user's own links
    assert reverse("admin:index") in content


def test_a_model_page_names_its_view_permission(client, staff_user):
    client.force_login(staff_user)

    response = client.get(reverse("admin:monitoring_querystat_changelist"))

    assert response.status_code == 403
    assert_admin_look(response)
    assert (
        "You need the permission “Can view query statistic”"
        " (monitoring.view_querystat)." in response.content.decode()
    )


def test_a_console_page_names_its_own_permission(client, staff_user):
    client.force_login(staff_user)

    response = client.get(reverse("admin:health_healthcheck_changelist"))

    assert response.status_code == 403
    assert "“Can view the health checks” (health.view_health_checks)" in (
        response.content.decode()
    )


def test_an_action_names_the_permission_it_needs(client, staff_user):
    grant(staff_user, "maintenance", "view_materializedview")
    client.force_login(staff_user)

    response = client.post(
        reverse("admin:maintenance_materializedview_refresh", args=["any_view"])
    )

    assert response.status_code == 403
    assert_admin_look(response)
    assert "(maintenance.refresh_materialized_view)" in response.content.decode()


def test_a_refusal_with_a_message_shows_it(staff_user):
    request = RequestFactory().get("/admin/")
    request.user = staff_user

    response = permission_denied(request, PermissionDenied("Only on Tuesdays."))

    assert response.status_code == 403
    assert "Only on Tuesdays." in response.content.decode()


def test_a_refusal_outside_the_admin_says_a_permission_is_missing(staff_user):
    request = RequestFactory().get("/nowhere/")
    request.user = staff_user

    response = permission_denied(request, PermissionDenied())

    assert response.status_code == 403
    assert "does not have the permission" in response.content.decode()


def overview_links(client):
    content = client.get(reverse("admin:index")).content.decode()
    overview = content[content.index('id="console-overview"') :]
    overview = overview[: overview.index("</table>")]
    return {
        name
        for name in ("alert", "healthcheck", "querystat")
        if f'/{name}/"' in overview
    }


def test_the_overview_links_only_to_pages_the_user_may_open(client, staff_user):
    client.force_login(staff_user)
    assert overview_links(client) == set()

    grant(staff_user, "monitoring", "view_querystat")
    assert overview_links(client) == {"querystat"}

    grant(staff_user, "health", "view_health_checks")
    grant(staff_user, "alerts", "view_alert")
    assert overview_links(client) == {"alert", "healthcheck", "querystat"}


def test_the_superuser_overview_links_everywhere(admin_client):
    assert overview_links(admin_client) == {"alert", "healthcheck", "querystat"}
