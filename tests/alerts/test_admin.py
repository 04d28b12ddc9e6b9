"""Admin pages for rules, alerts and notifications: permissions and audit."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from perfconsole.alerts.models import Alert, AlertRule, AlertState, Notification
from perfconsole.history.collector import console_database
from perfconsole.monitoring.models import QueryStat
from tests.conftest import forget_statements_of_this_database

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:alerts_alert_changelist")
FIRING_RULES = [
    "Dead tuples",
    "Invalid index",
    "Low cache hit rate",
    "Low index usage on a key table",
]


def grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def firing(seeded):
    """Open a few alerts on seeded rules, as evaluation would leave them."""
    now = timezone.now()
    alerts = []
    # Four seeded rules by name (more rules are seeded as the console grows):
    # one critical (Invalid index) and three warnings.
    rules = AlertRule.objects.filter(name__in=FIRING_RULES).order_by("name")
    for index, rule in enumerate(rules):
        alerts.append(
            Alert.objects.create(
                rule=rule,
                database=console_database(),
                subject=f"public.table_{index}",
                detail="SELECT '<script>alert(1)</script>'",
                value=1500,
                first_seen=now,
                last_seen=now,
            )
        )
    return alerts


def shown(response):
    return {alert.subject for alert in response.context["cl"].result_list}


def acknowledge(client, alerts):
    return client.post(
        CHANGELIST,
        {
            "action": "acknowledge_alerts",
            "_selected_action": [alert.pk for alert in alerts],
        },
    )


def test_staff_without_permission_cannot_see_alerts(client, staff_user, firing):
    client.force_login(staff_user)
    assert client.get(CHANGELIST).status_code == 403


def test_alert_list_filters_and_escapes(
    admin_client, firing, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        response = admin_client.get(CHANGELIST, {"state": "firing"})
    assert response.status_code == 200
    assert shown(response) == {a.subject for a in firing}
    critical = admin_client.get(CHANGELIST, {"rule__severity": "critical"})
    assert shown(critical) == {"public.table_1"}  # "Invalid index"
    by_rule = admin_client.get(CHANGELIST, {"rule__id__exact": firing[2].rule_id})
    assert shown(by_rule) == {"public.table_2"}
    detail = admin_client.get(reverse("admin:alerts_alert_change", args=[firing[0].pk]))
    assert b"<script>alert(1)" not in detail.content
    assert b"&lt;script&gt;alert(1)" in detail.content
    assert shown(admin_client.get(CHANGELIST, {"state": "resolved"})) == set()


def test_viewing_is_not_enough_to_acknowledge(client, staff_user, firing):
    client.force_login(grant(staff_user, "view_alert"))
    assert client.get(CHANGELIST).status_code == 200
    acknowledge(client, firing[:1])
    firing[0].refresh_from_db()
    assert firing[0].state == AlertState.FIRING
    assert not LogEntry.objects.exists()


def test_acknowledging_needs_its_permission_and_is_audited(client, staff_user, firing):
    client.force_login(grant(staff_user, "view_alert", "acknowledge_alert"))
    response = acknowledge(client, firing[:2])
    assert response.status_code == 302
    for alert in firing[:2]:
        alert.refresh_from_db()
        assert alert.state == AlertState.ACKNOWLEDGED
        assert alert.acknowledged_by == staff_user and alert.acknowledged_at
    firing[2].refresh_from_db()
    assert firing[2].state == AlertState.FIRING
    entries = LogEntry.objects.filter(user=staff_user)
    assert sorted(int(e.object_id) for e in entries) == sorted(a.pk for a in firing[:2])
    assert {e.get_change_message() for e in entries} == {"Acknowledged."}

    # Acknowledging again changes nothing and logs nothing.
    acknowledge(client, firing[:2])
    assert LogEntry.objects.filter(user=staff_user).count() == 2


def test_acknowledge_needs_csrf(staff_user, firing):
    client = Client(enforce_csrf_checks=True)
    client.force_login(grant(staff_user, "view_alert", "acknowledge_alert"))
    assert acknowledge(client, firing[:1]).status_code == 403
    firing[0].refresh_from_db()
    assert firing[0].state == AlertState.FIRING


def rule_form(rule, **changes):
    data = {
        "name": rule.name,
        "enabled": "on",
        "severity": rule.severity,
        "description": rule.description,
        "metric": rule.metric,
        "comparison": rule.comparison,
        "threshold": rule.threshold,
        "tables": ",".join(rule.tables),
        "query_ids": ",".join(map(str, rule.query_ids)),
        "min_rows": rule.min_rows,
        "cooldown_minutes": rule.cooldown_minutes,
        "window_minutes": rule.window_minutes,
    }
    return {**data, **changes}


def test_rules_are_edited_with_validated_thresholds(client, staff_user, seeded):
    rule = AlertRule.objects.get(metric="seq_scan_pct")
    url = reverse("admin:alerts_alertrule_change", args=[rule.pk])
    client.force_login(grant(staff_user, "view_alertrule"))
    assert client.post(url, rule_form(rule, threshold=30)).status_code == 403

    client.force_login(grant(staff_user, "change_alertrule"))
    for bad, message in [
        ({"threshold": 150}, b"A percentage threshold must be 0"),
        ({"threshold": -1}, b"The threshold cannot be negative"),
        ({"threshold": "lots"}, b"Enter a number"),
        ({"comparison": "between"}, b"Select a valid choice"),
        ({"metric": "invalid_index", "comparison": "lt", "threshold": 1}, b"use"),
        ({"query_ids": "abc"}, b"Item 1 in the array did not validate"),
        ({"window_minutes": 0}, b"greater than or equal to 1"),
        ({"window_minutes": 10**9}, b"less than or equal to 43200"),
    ]:
        response = client.post(url, rule_form(rule, **bad))
        assert response.status_code == 200, bad
        assert message in response.content, bad
    rule.refresh_from_db()
    assert rule.threshold == 20

    response = client.post(
        url, rule_form(rule, threshold=30, min_rows=50000, window_minutes=120)
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.threshold, rule.min_rows, rule.window_minutes) == (30, 50000, 120)


def test_notifications_are_read_only(admin_client, firing):
    notification = Notification.objects.create(
        alert=firing[0],
        channel="webhook",
        event="fired",
        ok=False,
        attempts=3,
        error="attempt 1: HTTP Error 500",
        sent_at=timezone.now(),
    )
    changelist = reverse("admin:alerts_notification_changelist")
    assert b"HTTP Error 500" not in admin_client.get(changelist).content
    assert admin_client.get(reverse("admin:alerts_notification_add")).status_code == 403
    url = reverse("admin:alerts_notification_change", args=[notification.pk])
    response = admin_client.get(url)
    assert b"HTTP Error 500" in response.content
    assert b'name="error"' not in response.content


def open_alert(metric, subject, value, detail=""):
    """Open an alert of the seeded rule on one metric, as evaluation would."""
    now = timezone.now()
    return Alert.objects.create(
        rule=AlertRule.objects.get(metric=metric),
        database=console_database(),
        subject=subject,
        detail=detail,
        value=value,
        first_seen=now,
        last_seen=now,
    )


def test_an_alert_shows_its_value_with_the_unit_and_the_threshold(admin_client, seeded):
    open_alert("query_mean_time_ms", "-8885596911298899480", 612.34)
    open_alert("dead_tuples", "public.orders", 8653)
    open_alert("cache_hit_pct", "perfconsole", 91.5)

    body = admin_client.get(CHANGELIST).content.decode()

    assert "612 ms (&gt; 100 ms)" in body
    assert "8,653 (&gt; 1,000)" in body
    assert "91.5 % (&lt; 95 %)" in body
    assert "-8885596911298899480" in body  # a query id without separators


def test_an_alert_links_to_the_table_index_or_view_it_concerns(admin_client, seeded):
    table = open_alert("dead_tuples", "public.orders", 8653)
    usage = open_alert("index_usage_pct", "public.orders", 12)
    index = open_alert("invalid_index", "public.orders_kind", 1)
    view = open_alert("matview_stale_hours", "team_productivity", 3.5)

    body = admin_client.get(CHANGELIST).content.decode()

    tables_page = reverse("admin:monitoring_tableperformance_changelist")
    indexes_page = reverse("admin:monitoring_indexusage_changelist")
    view_page = reverse(
        "admin:maintenance_materializedview_change", args=[quote(view.subject)]
    )
    assert f'href="{tables_page}?schema=public&amp;table=orders&amp;console=on"' in body
    assert (
        f'href="{indexes_page}?schema=public&amp;table=orders&amp;console=on"' in body
    )
    assert (
        f'href="{indexes_page}?schema=public&amp;q=orders_kind&amp;console=on"' in body
    )
    assert f'href="{view_page}"' in body
    assert "3.5 h (&gt; 2 h)" in body
    detail = admin_client.get(reverse("admin:alerts_alert_change", args=[index.pk]))
    assert "yes" in detail.content.decode()
    # The value field itself ("yes" may be anywhere on a page).
    assert '<div class="readonly">yes</div>' in detail.content.decode()
    for alert, subject_page in ((table, tables_page), (usage, indexes_page)):
        page = admin_client.get(reverse("admin:alerts_alert_change", args=[alert.pk]))
        assert f"{tables_page}?" in page.content.decode() or indexes_page in (
            page.content.decode()
        )
        # The navigation links every changelist: the subject's own link, then.
        subject_link = f"{subject_page}?schema=public&amp;table=orders&amp;console=on"
        assert f'<a href="{subject_link}">public.orders</a>' in page.content.decode()


def test_the_alert_page_shows_the_threshold_and_no_developer_help(admin_client, seeded):
    alert = open_alert("seq_scan_pct", "public.orders", 64.2, detail="5,000 rows")

    body = admin_client.get(reverse("admin:alerts_alert_change", args=[alert.pk]))

    text = body.content.decode()
    assert "64.2 % (&gt; 20 %)" in text
    assert "&gt; 20 %" in text
    # The threshold's own field, besides the value's parenthesis.
    assert '<div class="readonly">&gt; 20 %</div>' in text
    assert "shown escaped" not in text
    assert "the statement's text" in text


@pytest.mark.django_db(transaction=True)
def test_a_query_alert_opens_the_statements_page(
    admin_client, rules, second_connection
):
    conn = second_connection()
    # Another test may have run the same shape first (a pg_sleep inside a
    # function): its text would stand for this one.
    forget_statements_of_this_database(conn)
    conn.execute("SELECT pg_sleep(0.01) AS alerts_link_marker")
    stat = QueryStat.objects.get(query__contains="alerts_link_marker")
    alert = open_alert("query_mean_time_ms", str(stat.queryid), stat.mean_time_ms)
    link = reverse("admin:alerts_alert_query", args=[alert.pk])
    assert f'href="{link}"' in admin_client.get(CHANGELIST).content.decode()

    response = admin_client.get(link)

    assert response.status_code == 302
    # The statement's page, on the alert's target (the switcher's parameter).
    assert (
        response["Location"]
        == reverse("admin:monitoring_querystat_change", args=[quote(stat.pk)])
        + f"?target={alert.database.pk}"
    )
    page = admin_client.get(response["Location"], follow=True)
    assert page.status_code == 200
    assert "alerts_link_marker" in page.content.decode()


def test_a_query_gone_from_the_statistics_says_so(admin_client, seeded):
    alert = open_alert("query_mean_time_ms", "12345", 500)

    response = admin_client.get(
        reverse("admin:alerts_alert_query", args=[alert.pk]), follow=True
    )

    assert response.redirect_chain[-1][0] == reverse(
        "admin:alerts_alert_change", args=[alert.pk]
    )
    assert "Query 12345 is no longer in pg_stat_statements." in (
        response.content.decode()
    )


def test_only_a_query_alert_has_a_query_page(admin_client, seeded):
    alert = open_alert("dead_tuples", "public.orders", 8653)
    response = admin_client.get(reverse("admin:alerts_alert_query", args=[alert.pk]))
    assert response.status_code == 404


def test_alert_times_show_seconds(admin_client, seeded):
    alert = open_alert("dead_tuples", "public.orders", 8653)
    moment = f"{timezone.localtime(alert.last_seen):%Y-%m-%d %H:%M:%S}"

    body = admin_client.get(CHANGELIST).content.decode()
    # The list says how long ago, the moment with seconds on hover.
    assert re.search(rf'<span title="{moment} \S+">just now</span>', body)
    page = admin_client.get(reverse("admin:alerts_alert_change", args=[alert.pk]))
    assert moment in page.content.decode()
