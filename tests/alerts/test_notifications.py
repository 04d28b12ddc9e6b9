"""Notifications: e-mail content, webhook delivery and its failures."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from perfconsole.alerts.evaluation import evaluate_alerts
from perfconsole.alerts.models import (
    Alert,
    AlertRule,
    AlertState,
    Notification,
    NotificationChannel,
)
from perfconsole.history.collector import console_database

from .conftest import PROBE_SCHEMA, create_large_table, run, table_stat, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

TABLE, OTHER_TABLE = "notify_probe", "notify_probe_2"
SUBJECT = f"{PROBE_SCHEMA}.{TABLE}"


def make_dead_tuples(name):
    table = create_large_table(name, rows=2000)
    run(f"DELETE FROM {table} WHERE id <= 1500")
    wait_for(lambda: table_stat(name, "n_dead_tup"), lambda n: n >= 1500)
    return table


@pytest.fixture
def dead_tuples(rules, probe, settings):
    """Leave only the dead-tuples rule on, with a table over its threshold.

    The rule is narrowed to the probe tables: in the full suite other apps'
    tables hold dead tuples too, and their alerts would be notified as well.
    """
    AlertRule.objects.exclude(metric="dead_tuples").update(enabled=False)
    AlertRule.objects.filter(metric="dead_tuples").update(tables=[TABLE, OTHER_TABLE])
    table = make_dead_tuples(TABLE)
    settings.ALERT_EMAIL_RECIPIENTS = ["dba@example.com", "ops@example.com"]
    settings.ALERT_WEBHOOK_URL = ""
    settings.ALERT_CONSOLE_URL = "https://console.example.com/"
    return table


def clear_dead_tuples(table):
    run(f"VACUUM {table}")
    wait_for(lambda: table_stat(TABLE, "n_dead_tup"), lambda n: n == 0)


class Recorder(BaseHTTPRequestHandler):
    """Answer POSTs with the server's status after its delay; keep bodies."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.headers["Content-Type"], json.loads(body)))
        time.sleep(self.server.delay)
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(settings):
    """Start an HTTP server on 127.0.0.1 and point the webhook setting at it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.requests, server.status, server.delay = [], 204, 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hook"
    settings.ALERT_WEBHOOK_RETRIES = 2
    settings.ALERT_WEBHOOK_BACKOFF_SECONDS = 0.01
    settings.ALERT_WEBHOOK_TIMEOUT_SECONDS = 2
    yield server
    server.shutdown()
    server.server_close()


def test_it_emails_when_an_alert_fires_and_when_it_resolves(dead_tuples):
    evaluate_alerts()
    alert = Alert.objects.get(subject=SUBJECT)
    (fired,) = mail.outbox
    assert fired.to == ["dba@example.com", "ops@example.com"]
    console = console_database().name
    assert fired.subject == (
        f"[perfconsole] FIRING warning: Dead tuples — {SUBJECT} on {console}"
    )
    assert f"Target:    {console}" in fired.body
    assert "Alert firing: Dead tuples" in fired.body
    assert f"Subject:   {SUBJECT}" in fired.body
    assert "Condition: Dead tuples > 1000" in fired.body
    assert "Value:     1500.0" in fired.body
    assert f"https://console.example.com/admin/alerts/alert/{alert.pk}/change/" in (
        fired.body
    )

    evaluate_alerts()
    assert len(mail.outbox) == 1, "an alert still open is not notified again"

    clear_dead_tuples(dead_tuples)
    evaluate_alerts()
    resolved = mail.outbox[1]
    assert resolved.subject.startswith("[perfconsole] RESOLVED warning: Dead tuples")
    assert (
        "Alert resolved: Dead tuples" in resolved.body and "Resolved:" in resolved.body
    )
    sent = Notification.objects.filter(alert=alert).order_by("sent_at")
    assert [(n.channel, n.event, n.ok) for n in sent] == [
        ("email", "fired", True),
        ("email", "resolved", True),
    ]


def test_it_posts_json_to_the_webhook(dead_tuples, webhook):
    evaluate_alerts()
    (content_type, payload), *_ = webhook.requests
    assert content_type == "application/json"
    assert payload["event"] == "fired" and payload["subject"] == SUBJECT
    assert payload["target"] == console_database().name
    assert payload["rule"] == "Dead tuples" and payload["value"] == 1500
    assert payload["threshold"] == 1000 and payload["state"] == "firing"
    notification = Notification.objects.get(channel=NotificationChannel.WEBHOOK)
    assert notification.ok and notification.attempts == 1


def test_a_failing_webhook_is_retried_recorded_and_does_not_stop_evaluation(
    dead_tuples, webhook
):
    webhook.status = 500
    # A second alert: evaluation must reach it after the first one's failure.
    make_dead_tuples(OTHER_TABLE)

    evaluate_alerts()

    # 3 attempts for the first alert; the endpoint is then known to be down,
    # so the second alert gets one.
    assert len(webhook.requests) == 4
    failed = Notification.objects.filter(channel=NotificationChannel.WEBHOOK)
    assert sorted((n.ok, n.attempts) for n in failed) == [(False, 1), (False, 3)]
    assert all("HTTP Error 500" in n.error for n in failed)
    assert Alert.objects.filter(state=AlertState.FIRING).count() == 2
    # The other channel still delivered.
    assert len(mail.outbox) == 2
    assert Notification.objects.filter(channel="email", ok=True).count() == 2


def test_a_webhook_that_times_out_is_recorded(dead_tuples, webhook, settings):
    webhook.delay = 1.0
    settings.ALERT_WEBHOOK_TIMEOUT_SECONDS = 0.2
    settings.ALERT_WEBHOOK_RETRIES = 0
    evaluate_alerts()
    notification = Notification.objects.get(channel=NotificationChannel.WEBHOOK)
    assert not notification.ok and "timed out" in notification.error


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_failing_mail_server_is_recorded_and_the_webhook_still_sent(
    dead_tuples, webhook, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port()
    settings.ALERT_EMAIL_TIMEOUT_SECONDS = 2
    evaluate_alerts()
    email = Notification.objects.get(channel=NotificationChannel.EMAIL)
    assert not email.ok and "Connection refused" in email.error
    assert Notification.objects.get(channel=NotificationChannel.WEBHOOK).ok
    assert Alert.objects.get(subject=SUBJECT).state == AlertState.FIRING


def test_a_resolved_subject_firing_again_within_cooldown_reopens_quietly(
    dead_tuples,
):
    evaluate_alerts()
    alert = Alert.objects.get(subject=SUBJECT)
    clear_dead_tuples(dead_tuples)
    evaluate_alerts()
    run(f"INSERT INTO {dead_tuples} SELECT g, '' FROM generate_series(2001, 4000) g")
    run(f"DELETE FROM {dead_tuples} WHERE id > 2000")
    wait_for(lambda: table_stat(TABLE, "n_dead_tup"), lambda n: n >= 2000)
    evaluate_alerts()

    (reopened,) = Alert.objects.filter(subject=SUBJECT)
    assert reopened.pk == alert.pk and reopened.state == AlertState.FIRING
    assert reopened.resolved_at is None
    assert [m.subject.split()[1] for m in mail.outbox] == ["FIRING", "RESOLVED"]


def test_a_mail_server_that_never_answers_times_out(dead_tuples, settings):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", silent.getsockname()[1]
        settings.ALERT_EMAIL_TIMEOUT_SECONDS = 1
        evaluate_alerts()
    email = Notification.objects.get(channel=NotificationChannel.EMAIL)
    assert not email.ok and "timed out" in email.error
