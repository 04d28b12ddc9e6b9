"""Adding, changing and listing monitored databases: validation, permissions, log."""

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse

from perfconsole.history.collector import console_database
from perfconsole.history.models import MonitoredDatabase

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:history_monitoreddatabase_add")
LIST_URL = reverse("admin:history_monitoreddatabase_changelist")


def change_url(database):
    return reverse("admin:history_monitoreddatabase_change", args=[database.pk])


def valid(**fields):
    """Return the add form's data of a good target, with fields changed."""
    data = {
        "name": "staging",
        "host": "db.staging.example",
        "port": "5432",
        "dbname": "app",
        "user": "monitor",
        "service": "",
        "sslmode": "require",
        "password_env": "PERFCONSOLE_PASSWORD_STAGING",
        "role": "primary",
        "primary": "",
        "enabled": "on",
        "collect_interval_s": "60",
    }
    data.update(fields)
    return data


BAD_INPUT = [
    ({"name": "it's"}, "name", "Quotes"),
    ({"host": "db.example\nhost=evil"}, "host", "control characters"),
    ({"host": "db'.example"}, "host", "Quotes"),
    ({"dbname": "app\\"}, "dbname", "backslashes"),
    ({"user": "mon\titor"}, "user", "control characters"),
    ({"service": "svc\x7f"}, "service", "control characters"),
    ({"dbname": 'a"b'}, "dbname", "Quotes"),
    ({"port": "0"}, "port", "from 1 to 65535"),
    ({"port": "70000"}, "port", "from 1 to 65535"),
    ({"port": "-1"}, "port", "greater than or equal to 0"),
    ({"port": "abc"}, "port", "whole number"),
    ({"password_env": "1PASSWORD"}, "password_env", "A variable name"),
    ({"password_env": "PERFCONSOLE_PASSWORD_A-B"}, "password_env", "A variable name"),
    ({"password_env": "SECRET_KEY"}, "password_env", "must start with"),
    ({"password_env": "PERFCONSOLE_PASSWORD_"}, "password_env", "must start with"),
    ({"dbname": "", "service": ""}, "dbname", "database name, or a service"),
    ({"dbname": "app host=evil.example"}, "dbname", "not a connection string"),
    ({"dbname": "postgresql://evil.example/app"}, "dbname", "not a connection string"),
    ({"role": "standby"}, "primary", "A standby needs"),
    ({"sslmode": "maybe"}, "sslmode", "Select a valid choice"),
    ({"collect_interval_s": "-5"}, "collect_interval_s", "greater than or equal"),
    ({"collect_interval_s": "30"}, "collect_interval_s", "From 60 seconds"),
    ({"collect_interval_s": "100000"}, "collect_interval_s", "(a day)"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_INPUT)
def test_bad_input_is_a_form_error(admin_client, change, field, message):
    response = admin_client.post(ADD_URL, valid(**change))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not MonitoredDatabase.objects.filter(is_console_database=False).exists()


def test_a_nul_byte_is_refused_before_the_form(admin_client):
    response = admin_client.post(ADD_URL, valid(host="db\x00.example"))
    assert response.status_code == 400
    assert b"NUL" in response.content
    assert not MonitoredDatabase.objects.filter(is_console_database=False).exists()


def test_a_standby_names_a_primary_that_is_not_a_standby(admin_client):
    primary = MonitoredDatabase.objects.create(name="prod", dbname="app")
    standby = MonitoredDatabase.objects.create(
        name="prod replica", dbname="app", role="standby", primary=primary
    )
    response = admin_client.post(
        ADD_URL, valid(role="standby", primary=str(standby.pk))
    )
    # Standbys are not offered as primaries at all.
    assert "primary" in response.context["adminform"].form.errors
    # A target cannot replicate itself.
    response = admin_client.post(
        change_url(primary), valid(name="prod", role="standby", primary=primary.pk)
    )
    assert "primary" in response.context["adminform"].form.errors
    # A primary with standbys cannot become one.
    response = admin_client.post(
        change_url(primary),
        valid(name="prod", role="standby", primary=console_database().pk),
    )
    assert "Other targets are standbys" in str(
        response.context["adminform"].form.errors
    )
    # A primary has no primary.
    response = admin_client.post(ADD_URL, valid(primary=str(primary.pk)))
    assert "Only a standby" in str(response.context["adminform"].form.errors)
    primary.refresh_from_db()
    assert primary.role == "primary"


def test_adding_and_changing_are_logged_and_store_no_password(admin_client):
    response = admin_client.post(ADD_URL, valid())
    assert response.status_code == 302
    target = MonitoredDatabase.objects.get(name="staging")
    assert (target.host, target.port, target.sslmode) == (
        "db.staging.example",
        5432,
        "require",
    )
    assert target.password_env == "PERFCONSOLE_PASSWORD_STAGING"
    assert LogEntry.objects.get(object_id=str(target.pk)).action_flag == ADDITION

    response = admin_client.post(change_url(target), valid(port="6432"))
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.port == 6432
    entry = LogEntry.objects.filter(object_id=str(target.pk), action_flag=CHANGE).get()
    assert "Port" in entry.get_change_message()


def test_the_form_has_no_password_field(admin_client):
    page = admin_client.get(ADD_URL).content.decode()
    assert 'type="password"' not in page
    assert 'name="password"' not in page
    assert 'name="password_env"' in page


def test_the_console_database_comes_first_and_keeps_its_connection(admin_client):
    console = console_database()
    MonitoredDatabase.objects.create(name="aaa first by name", dbname="app")
    page = admin_client.get(LIST_URL).content.decode()
    assert page.index(console.name) < page.index("aaa first by name")
    assert "the console&#x27;s own database" in page
    # No bulk deletion: a target is removed from its page, counts first.
    assert 'value="delete_selected"' not in page

    form = admin_client.get(change_url(console)).context["adminform"].form
    assert "host" not in form.fields and "dbname" not in form.fields
    response = admin_client.post(
        change_url(console),
        {
            "name": console.name,
            "enabled": "on",
            "collect_interval_s": "120",
            "host": "evil.example",
        },
    )
    assert response.status_code == 302
    console.refresh_from_db()
    assert console.collect_interval_s == 120
    assert console.host == ""
    delete = reverse("admin:history_monitoreddatabase_delete", args=[console.pk])
    assert admin_client.get(delete).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert MonitoredDatabase.objects.filter(pk=console.pk).exists()


@pytest.mark.parametrize(
    ("codename", "url_name", "method"),
    [
        ("add_monitoreddatabase", "add", "post"),
        ("change_monitoreddatabase", "change", "post"),
        ("delete_monitoreddatabase", "delete", "post"),
    ],
)
def test_each_change_needs_its_own_permission(
    client, django_user_model, codename, url_name, method
):
    target = MonitoredDatabase.objects.create(name="prod", dbname="app")
    user = django_user_model.objects.create_user(
        username="viewer", password="x", is_staff=True
    )
    user.user_permissions.add(Permission.objects.get(codename="view_monitoreddatabase"))
    client.force_login(user)
    args = [] if url_name == "add" else [target.pk]
    url = reverse(f"admin:history_monitoreddatabase_{url_name}", args=args)
    data = {"post": "yes"} if url_name == "delete" else valid(name="renamed")
    assert client.post(url, data).status_code == 403
    assert MonitoredDatabase.objects.filter(name="prod").exists()

    user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(django_user_model.objects.get(pk=user.pk))
    assert client.post(url, data).status_code == 302
    changed = not MonitoredDatabase.objects.filter(name="prod").exists()
    added = MonitoredDatabase.objects.filter(name="renamed").exists()
    assert changed or added


def test_a_target_name_is_escaped(admin_client):
    target = MonitoredDatabase.objects.create(
        name="<script>alert(1)</script>", dbname="app", status_reason="<b>bold</b>"
    )
    page = admin_client.get(LIST_URL).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page
    assert admin_client.get(change_url(target)).status_code == 200
