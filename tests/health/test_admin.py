"""The admin pages: access, escaping, filters, cancel / terminate and the audit log."""

import re

import psycopg
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.db import connection

from perfconsole.core.db import console_connection_params, raw_connection
from perfconsole.health import activity
from tests.health.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS_URL = "/admin/health/healthcheck/"
ACTIVITY_URL = "/admin/health/activity/"
SIGNAL_URL = "/admin/health/activity/signal/"
HOSTILE = "SELECT pg_sleep(30) /* <script>alert('x')</script> */"


def _grant(user, *codenames):
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="health", codename__in=codenames
        )
    )


@pytest.fixture
def sleeper(background):
    job = background(HOSTILE)
    wait_for(lambda: job.pid in {r["pid"] for r in activity.sessions()})
    return job


def test_pages_redirect_anonymous_users(client):
    for url in (CHECKS_URL, ACTIVITY_URL):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_pages_need_their_permission(client, staff_user):
    client.force_login(staff_user)
    assert client.get(CHECKS_URL).status_code == 403
    assert client.get(ACTIVITY_URL).status_code == 403

    _grant(staff_user, "view_health_checks", "view_activity")
    assert client.get(CHECKS_URL).status_code == 200
    assert client.get(ACTIVITY_URL).status_code == 200


def test_admin_index_lists_the_pages(admin_client):
    content = admin_client.get("/admin/").content.decode()
    assert CHECKS_URL in content and ACTIVITY_URL in content


def test_checks_page_shows_findings_and_fixes(admin_client, problem_schema, settings):
    settings.HEALTH_THRESHOLDS = {"unused_index_min_bytes": 512 * 1024}
    response = admin_client.get(CHECKS_URL)

    content = response.content.decode()
    assert response.status_code == 200
    assert 'id="check-duplicate_indexes"' in content
    assert "health_fixture.dup_a_idx" in content
    assert "DROP INDEX CONCURRENTLY health_fixture.unused_payload_idx;" in content
    assert "REINDEX INDEX CONCURRENTLY health_fixture.invalid_code_idx;" in content


def test_query_text_is_escaped(admin_client, sleeper, settings):
    settings.HEALTH_THRESHOLDS = {"long_running_query_sec": 0}
    for url in (ACTIVITY_URL, CHECKS_URL):
        content = admin_client.get(url).content.decode()
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in content, url
        assert "<script>alert(" not in content, url


def test_activity_filter_with_a_bad_value_is_a_400(admin_client):
    refused = admin_client.get(ACTIVITY_URL, {"console": "maybe"})
    assert refused.status_code == 400
    # The console's 400 page, naming the field.
    assert "Bad request" in refused.content.decode()
    assert (
        "Invalid filter" in refused.content.decode()
        and "console" in refused.content.decode()
    )
    assert admin_client.get(ACTIVITY_URL, {"console": "1"}).status_code == 200


def test_superuser_cancels_a_query_and_it_is_logged(admin_client, sleeper, superuser):
    response = admin_client.post(
        SIGNAL_URL, {"pid": sleeper.pid, "action": "cancel", "confirm": "yes"}
    )

    assert response.status_code == 302
    sleeper.thread.join(timeout=10)
    assert isinstance(sleeper.error, psycopg.errors.QueryCanceled)
    entry = LogEntry.objects.get(object_id=str(sleeper.pid))
    assert entry.user == superuser
    assert entry.object_repr == f"pid {sleeper.pid}"
    assert "Cancelled the query of" in entry.change_message
    assert "pg_sleep(30)" in entry.change_message
    # The admin index lists it under recent actions (no change page to link).
    index = admin_client.get("/admin/")
    assert index.status_code == 200
    assert f"pid {sleeper.pid}" in index.content.decode()


def test_terminate_ends_the_session(admin_client, session_factory):
    idle = session_factory(autocommit=False)
    idle.execute("SELECT 1 /* to be terminated */")
    pid = idle.info.backend_pid

    response = admin_client.post(
        SIGNAL_URL, {"pid": pid, "action": "terminate", "confirm": "yes"}
    )

    assert response.status_code == 302
    wait_for(lambda: pid not in {r["pid"] for r in activity.sessions()})
    with pytest.raises(psycopg.OperationalError):
        idle.execute("SELECT 1")
    entry = LogEntry.objects.get(object_id=str(pid))
    assert entry.change_message.startswith(f"Terminated pid {pid}")
    assert "to be terminated" in entry.change_message


def test_each_action_needs_its_own_permission(client, staff_user, sleeper):
    _grant(staff_user, "view_activity", "cancel_backend")
    client.force_login(staff_user)

    page = client.get(ACTIVITY_URL).content.decode()
    assert "action=cancel" in page and "action=terminate" not in page

    response = client.post(
        SIGNAL_URL, {"pid": sleeper.pid, "action": "terminate", "confirm": "yes"}
    )
    assert response.status_code == 403
    assert sleeper.thread.is_alive()
    assert not LogEntry.objects.exists()

    response = client.post(
        SIGNAL_URL, {"pid": sleeper.pid, "action": "cancel", "confirm": "yes"}
    )
    assert response.status_code == 302
    sleeper.thread.join(timeout=10)
    assert isinstance(sleeper.error, psycopg.errors.QueryCanceled)
    assert LogEntry.objects.get().user == staff_user


def test_actions_can_be_turned_off(admin_client, sleeper, settings):
    settings.ACTIVITY_ACTIONS_ENABLED = False

    page = admin_client.get(ACTIVITY_URL).content.decode()
    assert "action=cancel" not in page and "ACTIVITY_ACTIONS_ENABLED" in page
    response = admin_client.post(
        SIGNAL_URL, {"pid": sleeper.pid, "action": "cancel", "confirm": "yes"}
    )
    assert response.status_code == 403
    assert sleeper.thread.is_alive()
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"pid": "abc", "action": "cancel"},
        {"pid": "-5", "action": "cancel"},
        {"pid": str(2**40), "action": "cancel"},
        {"pid": "123", "action": "drop"},
        {"action": "cancel"},
    ],
)
def test_bad_signal_requests_are_a_400(admin_client, data):
    assert admin_client.post(SIGNAL_URL, data).status_code == 400


def test_signal_refuses_other_methods(admin_client):
    assert admin_client.put(SIGNAL_URL).status_code == 405


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def test_the_consoles_own_session_is_refused(admin_client):
    connection.ensure_connection()
    own_pid = connection.connection.info.backend_pid

    response = admin_client.post(
        SIGNAL_URL,
        {"pid": own_pid, "action": "terminate", "confirm": "yes"},
        follow=True,
    )

    assert "console's own session" in " ".join(_messages(response))
    assert not LogEntry.objects.exists()


def test_an_unknown_pid_is_refused(admin_client):
    response = admin_client.post(
        SIGNAL_URL,
        {"pid": 2**31 - 1, "action": "cancel", "confirm": "yes"},
        follow=True,
    )
    assert "No client session with pid" in " ".join(_messages(response))


def test_a_role_without_pg_signal_backend_is_told_what_to_grant(
    admin_client, sleeper, monitor_role
):
    response = admin_client.post(
        SIGNAL_URL,
        {"pid": sleeper.pid, "action": "cancel", "confirm": "yes"},
        follow=True,
    )

    assert "GRANT pg_signal_backend TO" in " ".join(_messages(response))
    assert sleeper.thread.is_alive()
    assert not LogEntry.objects.exists()


def test_checks_page_says_when_statistics_are_unavailable(
    admin_client, problem_schema, session_factory, settings
):
    settings.HEALTH_THRESHOLDS = {"unused_index_min_bytes": 512 * 1024}
    ddl = session_factory(autocommit=False)
    ddl.execute("DROP INDEX health_fixture.unused_payload_idx")
    response = admin_client.get(CHECKS_URL)
    ddl.rollback()

    assert response.status_code == 200
    content = response.content.decode()
    assert "Statistics unavailable right now" in content
    assert "health_fixture.dup_a_idx" in content  # the other checks still ran


def _pooled(second_connection, name):
    """Open another backend named like one of the console's connections."""
    conn = second_connection(autocommit=False)
    conn.execute("SELECT set_config('application_name', %s, false)", [name])
    conn.execute("SELECT 1 /* a pooled connection in a transaction */")
    return conn


@pytest.mark.parametrize("action", ["cancel", "terminate"])
def test_the_consoles_pooled_connections_are_refused(
    admin_client, second_connection, action
):
    pooled = _pooled(second_connection, "perfconsole-web")
    pid = pooled.info.backend_pid

    response = admin_client.post(
        SIGNAL_URL, {"pid": pid, "action": action, "confirm": "yes"}, follow=True
    )

    assert "one of the console's own connections" in " ".join(_messages(response))
    assert "'perfconsole-web'" in " ".join(_messages(response))
    pooled.execute("SELECT 2")  # still connected, its transaction intact
    assert not LogEntry.objects.exists()


def test_a_connection_named_like_this_one_is_the_consoles(second_connection, superuser):
    # A DATABASE_URL may name the console's connections without the prefix.
    with connection.cursor() as cursor:
        cursor.execute("SET application_name = 'ops-console'")
    try:
        pooled = _pooled(second_connection, "ops-console")
        with pytest.raises(activity.ActionRefused, match="console's own"):
            activity.signal_backend(superuser, pooled.info.backend_pid, "terminate")
        pooled.execute("SELECT 2")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET application_name")


def test_the_page_offers_no_button_for_the_consoles_connections(
    admin_client, second_connection, session_factory
):
    pooled = _pooled(second_connection, "perfconsole-qcluster")
    other = session_factory(autocommit=False)
    other.execute("SELECT 2 /* another application */")

    page = admin_client.get(ACTIVITY_URL + "?console=1").content.decode()

    assert f'<td class="num">{pooled.info.backend_pid}</td>' in page
    assert f"?pid={pooled.info.backend_pid}&amp;" not in page
    assert f"?pid={other.info.backend_pid}&amp;" in page
    assert "the console's own connection" in page
    assert "would break its pages" in page


def test_the_confirmation_shows_the_session_and_its_query(admin_client, sleeper):
    response = admin_client.get(SIGNAL_URL, {"pid": sleeper.pid, "action": "cancel"})

    content = response.content.decode()
    assert response.status_code == 200
    assert f"Cancel the query of pid {sleeper.pid}?" in content
    assert "health-test" in content and "active" in content
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in content
    assert "<script>alert(" not in content
    assert 'name="confirm" value="yes"' in content
    assert sleeper.thread.is_alive()
    assert not LogEntry.objects.exists()


def test_a_post_without_confirmation_does_nothing(admin_client, sleeper):
    response = admin_client.post(SIGNAL_URL, {"pid": sleeper.pid, "action": "cancel"})

    assert response.status_code == 200
    assert 'name="confirm" value="yes"' in response.content.decode()
    assert sleeper.thread.is_alive()
    assert not LogEntry.objects.exists()


def test_the_confirmation_says_why_it_would_be_refused(admin_client):
    response = admin_client.get(SIGNAL_URL, {"pid": 2**31 - 1, "action": "terminate"})

    content = response.content.decode()
    assert "No client session with pid" in content
    assert 'name="confirm"' not in content


def test_the_activity_page_filters_and_names_the_lock(
    admin_client, problem_schema, session_factory, background
):
    holder = session_factory(autocommit=False)
    holder.execute("LOCK TABLE health_fixture.dup IN EXCLUSIVE MODE")
    waiter = background("SELECT count(*) FROM health_fixture.dup FOR UPDATE")
    wait_for(lambda: activity.blocking_pairs())
    idle = session_factory()
    idle.execute("SELECT 1 /* idle one */")

    page = admin_client.get(ACTIVITY_URL).content.decode()
    waiting = admin_client.get(ACTIVITY_URL, {"state": "waiting"}).content.decode()
    holder.rollback()

    assert "RowShareLock on health_fixture.dup" in page
    assert "idle one" in page
    assert f"?pid={waiter.pid}&amp;action=cancel" in waiting
    assert "idle one" not in waiting
    assert 'data-refresh-seconds="10"' in page
    # The form shows the reload the page uses.
    assert '<option value="10" selected>' in page
    assert "perfconsole/health/activity.js" in page
    assert 'id="activity-progress"' in page


@pytest.mark.parametrize(
    "query",
    [
        {"state": "sleeping"},
        {"min_seconds": "-1"},
        {"database": "nope"},
        {"refresh": "3"},
        {"user": "x" * 64},
    ],
)
def test_bad_activity_filters_are_a_400(admin_client, query):
    assert admin_client.get(ACTIVITY_URL, query).status_code == 400


def _expected(page):
    return re.search(r'name="expected" value="([^"]*)"', page).group(1)


def test_a_cancel_confirmed_for_another_query_sends_nothing(
    admin_client, sleeper, background
):
    page = admin_client.get(SIGNAL_URL, {"pid": sleeper.pid, "action": "cancel"})
    expected = _expected(page.content.decode())
    conn = sleeper.conn
    sleeper.stop()
    later = background("SELECT pg_sleep(30) /* a later query */", conn=conn)
    wait_for(lambda: later.pid in {r["pid"] for r in activity.sessions(state="active")})

    response = admin_client.post(
        SIGNAL_URL,
        {"pid": later.pid, "action": "cancel", "confirm": "yes", "expected": expected},
        follow=True,
    )

    assert "has moved on since the confirmation" in " ".join(_messages(response))
    assert later.thread.is_alive()
    assert not LogEntry.objects.exists()

    page = admin_client.get(SIGNAL_URL, {"pid": later.pid, "action": "cancel"})
    fresh = _expected(page.content.decode())
    admin_client.post(
        SIGNAL_URL,
        {"pid": later.pid, "action": "cancel", "confirm": "yes", "expected": fresh},
    )
    later.thread.join(timeout=10)
    assert isinstance(later.error, psycopg.errors.QueryCanceled)


def test_the_confirmation_needs_the_view_permission_too(client, staff_user, sleeper):
    _grant(staff_user, "cancel_backend")
    client.force_login(staff_user)

    response = client.get(SIGNAL_URL, {"pid": sleeper.pid, "action": "cancel"})

    assert response.status_code == 403
    assert "pg_sleep" not in response.content.decode()


def test_sessions_of_other_databases_are_shown_without_buttons(admin_client):
    params = console_connection_params(
        dbname="postgres", application_name="health-test-other"
    )
    with raw_connection(params) as other:
        other.execute("SELECT 1 /* in another database */")
        pid = other.info.backend_pid

        here = admin_client.get(ACTIVITY_URL).content.decode()
        everywhere = admin_client.get(ACTIVITY_URL, {"database": "*"}).content
        postgres = admin_client.get(ACTIVITY_URL, {"database": "postgres"}).content

    assert "in another database" not in here
    for page in (everywhere.decode(), postgres.decode()):
        assert "in another database" in page
        assert "<th>database</th>" in page
        assert f"?pid={pid}&amp;" not in page
        assert "another database" in page
