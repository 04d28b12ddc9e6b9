"""The materialized views pages and "Refresh now", with real permissions."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from perfconsole.maintenance.models import ViewRefresh
from perfconsole.maintenance.tasks import refresh_view_task

# Only tests that run a refresh need committed data: the refresh has its own
# session, which cannot see the test's transaction.
pytestmark = pytest.mark.django_db
transactional = pytest.mark.django_db(transaction=True)

VIEW = "mt_button"


def page_url(name=VIEW):
    return reverse("admin:maintenance_materializedview_change", args=[name])


def refresh_url(name=VIEW):
    return reverse("admin:maintenance_materializedview_refresh", args=[name])


def grant(user, *codenames):
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="maintenance", codename__in=codenames
        )
    )


@pytest.fixture
def button_view(make_view):
    return make_view(VIEW)


@pytest.fixture
def viewer(staff_user):
    """A staff user who may see the views but not refresh them."""
    grant(staff_user, "view_materializedview")
    return staff_user


@pytest.fixture
def operator(django_user_model):
    """A staff user with the refresh permission."""
    user = django_user_model.objects.create_user(
        username="operator", password="operator-password", is_staff=True
    )
    grant(user, "view_materializedview", "refresh_materialized_view")
    return user


def csrf_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def queued_tasks():
    return OrmQ.objects.count()


def test_the_list_shows_every_materialized_view(admin_client, make_view):
    make_view("mt_one")
    make_view("mt_two", populated=False, unique_index=False)

    response = admin_client.get(
        reverse("admin:maintenance_materializedview_changelist")
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert "mt_one" in content and "mt_two" in content
    assert "Refresh now" in content  # the action


@transactional
def test_refresh_now_queues_one_refresh_and_shows_it_to_done(button_view, operator):
    client = csrf_client(operator)
    page = client.get(page_url())
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]

    response = client.post(refresh_url(), {"csrfmiddlewaretoken": token})

    assert response.status_code == 302
    refresh = ViewRefresh.objects.get()
    assert (refresh.status, refresh.trigger) == ("queued", "user")
    assert refresh.triggered_by == operator
    assert refresh.task_id and queued_tasks() == 1
    queued = client.get(page_url())
    assert "Queued" in queued.text
    assert 'http-equiv="refresh"' in queued.text
    entry = LogEntry.objects.get(object_id=VIEW)
    assert entry.user == operator
    assert f"#{refresh.pk}" in entry.get_change_message()

    # What the worker runs for this task.
    assert refresh_view_task(VIEW, "user", refresh_id=refresh.pk) == "succeeded"

    done = client.get(page_url())
    refresh.refresh_from_db()
    assert refresh.status == "succeeded" and refresh.task_id
    assert f"done in {refresh.duration_ms} ms" in done.text
    assert 'http-equiv="refresh"' not in done.text


def test_pressing_twice_queues_one_refresh(button_view, operator):
    client = Client()
    client.force_login(operator)

    client.post(refresh_url())
    second = client.post(refresh_url(), follow=True)

    assert ViewRefresh.objects.count() == 1
    assert queued_tasks() == 1
    assert "already queued" in second.text
    assert LogEntry.objects.filter(object_id=VIEW).count() == 2


@transactional
def test_a_press_while_a_scheduled_refresh_runs_queues_nothing(
    slow_view, refresh_in_background, operator
):
    slow_view(1.5)
    client = Client()
    client.force_login(operator)

    thread = refresh_in_background(slow_view.view)
    response = client.post(refresh_url(slow_view.view), follow=True)
    thread.join(timeout=30)

    assert "already running" in response.text
    assert queued_tasks() == 0


@transactional
def test_a_new_refresh_can_be_queued_once_the_last_is_done(button_view, operator):
    client = Client()
    client.force_login(operator)
    client.post(refresh_url())
    first = ViewRefresh.objects.get()
    refresh_view_task(VIEW, "user", refresh_id=first.pk)

    client.post(refresh_url())

    assert ViewRefresh.objects.filter(status="queued").count() == 1
    assert queued_tasks() == 2


def test_the_button_is_refused_without_the_refresh_permission(button_view, viewer):
    client = Client()
    client.force_login(viewer)

    page = client.get(page_url())
    response = client.post(refresh_url())

    assert page.status_code == 200
    assert "Refresh now" not in page.text
    assert response.status_code == 403
    assert not ViewRefresh.objects.exists()
    assert queued_tasks() == 0


def test_the_button_is_refused_without_a_csrf_token(button_view, operator):
    response = csrf_client(operator).post(refresh_url())

    assert response.status_code == 403
    assert not ViewRefresh.objects.exists()


def test_the_refresh_url_only_accepts_post(button_view, operator):
    client = Client()
    client.force_login(operator)

    assert client.get(refresh_url()).status_code == 405
    assert not ViewRefresh.objects.exists()


def test_an_unknown_view_is_not_found(operator):
    client = Client()
    client.force_login(operator)

    assert client.get(page_url("no_such_view")).status_code == 404
    assert client.post(refresh_url("no_such_view")).status_code == 404


def test_the_admin_action_queues_refreshes(make_view, operator):
    make_view("mt_a")
    make_view("mt_b")
    client = Client()
    client.force_login(operator)

    response = client.post(
        reverse("admin:maintenance_materializedview_changelist"),
        {"action": "refresh_now", "_selected_action": ["mt_a", "mt_b"]},
    )

    assert response.status_code == 302
    assert sorted(ViewRefresh.objects.values_list("view_name", flat=True)) == [
        "mt_a",
        "mt_b",
    ]
    assert queued_tasks() == 2
    assert LogEntry.objects.filter(object_id__in=["mt_a", "mt_b"]).count() == 2


def test_the_admin_action_is_hidden_without_the_permission(button_view, viewer):
    client = Client()
    client.force_login(viewer)
    changelist = reverse("admin:maintenance_materializedview_changelist")

    page = client.get(changelist)
    client.post(changelist, {"action": "refresh_now", "_selected_action": [VIEW]})

    assert page.status_code == 200
    assert "refresh_now" not in page.text
    assert not ViewRefresh.objects.exists()


@transactional
def test_query_and_error_text_is_escaped(make_view, admin_client):
    make_view("mt_escaped", "SELECT id, 1 / (v - 1) AS v FROM mt_source WHERE v = 2")
    from perfconsole.maintenance.services import refresh_view

    refresh = refresh_view("mt_escaped", "command")
    ViewRefresh.objects.filter(pk=refresh.pk).update(error="<script>x</script>")

    page = admin_client.get(page_url("mt_escaped"))

    assert "<script>x</script>" not in page.text
    assert "&lt;script&gt;x&lt;/script&gt;" in page.text


@transactional
def test_the_history_list_renders(button_view, admin_client):
    from perfconsole.maintenance.services import refresh_view

    refresh_view(VIEW, "command")

    response = admin_client.get(reverse("admin:maintenance_viewrefresh_changelist"))

    assert response.status_code == 200
    assert VIEW in response.text


@transactional
def test_the_history_list_shows_a_refresh_whose_worker_is_gone_as_failed(
    button_view, admin_client, second_connection
):
    worker = second_connection()
    pid = worker.info.backend_pid
    worker.close()
    ViewRefresh.objects.create(
        view_name=VIEW, trigger="command", status="running", backend_pid=pid
    )

    response = admin_client.get(reverse("admin:maintenance_viewrefresh_changelist"))

    row = ViewRefresh.objects.get(view_name=VIEW)
    assert row.status == "failed" and "Worker process gone" in row.error
    assert "Worker process gone" in response.text


@transactional
def test_the_activity_rollup_is_listed_and_rebuilt_with_the_button(operator):
    rollup = "organization_activity_rollup"
    listing = Client()
    listing.force_login(operator)
    content = listing.get(
        reverse("admin:maintenance_materializedview_changelist")
    ).content.decode()
    assert rollup in content and ">rollup<" in content
    client = csrf_client(operator)
    page = client.get(page_url(rollup))
    assert "get_organization_analytics reads" in page.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]

    client.post(refresh_url(rollup), {"csrfmiddlewaretoken": token})

    refresh = ViewRefresh.objects.get()
    assert (refresh.view_name, refresh.status) == (rollup, "queued")
    assert LogEntry.objects.get(object_id=rollup).user == operator
    assert refresh_view_task(rollup, "user", refresh_id=refresh.pk) == "succeeded"
    assert "done in" in client.get(page_url(rollup)).text


@transactional
def test_refresh_times_sizes_and_counts_read_as_a_person_reads_them(
    make_view, admin_client
):
    from perfconsole.maintenance.services import refresh_view

    from .conftest import execute

    make_view(
        "mt_counted", query="SELECT g AS id, 1 AS v FROM generate_series(1, 13570) g"
    )
    execute("ANALYZE mt_counted")
    refresh_view("mt_counted", "command")
    refresh = ViewRefresh.objects.get(view_name="mt_counted")
    seconds = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")

    page = admin_client.get(page_url("mt_counted")).text

    history = page[page.index("<h2>History</h2>") :]
    started = timezone.localtime(refresh.requested_at)
    assert f"{started:%Y-%m-%d %H:%M:%S}" in history
    # How long ago, beside the moment.
    assert re.search(r'<span class="help">\((just now|\d+ s ago)\)</span>', history)
    assert f'title="{refresh.duration_ms} ms"' in history or (
        f">{refresh.duration_ms} ms<" in history
    )
    assert "13,570" in page  # the row estimate, with a separator
    assert re.search(r'<span title="[\d,]+ bytes">\d+ (kB|bytes)</span>', page)
    assert seconds.search(page[: page.index("<h2>History</h2>")])  # last success

    listing = admin_client.get(
        reverse("admin:maintenance_materializedview_changelist")
    ).text
    assert "13,570" in listing and "13570" not in listing
    changelist = admin_client.get(
        reverse("admin:maintenance_viewrefresh_changelist")
    ).text
    assert f"{started:%Y-%m-%d %H:%M:%S}" in changelist
