"""Tell people when an alert fires or resolves: e-mail and an optional webhook.

Every delivery is recorded as a Notification, failed or not; a failure is
logged and never raised, so evaluation goes on.
"""

import json
import logging
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .models import Notification, NotificationChannel

logger = logging.getLogger(__name__)


class Notifier:
    """Send the notifications of one evaluation run.

    Once the webhook has failed every attempt, later events of the same run
    get one attempt each: a dead endpoint must not hold the task past its
    timeout with retries.
    """

    def __init__(self):
        self.webhook_down = False

    def notify(self, alert, event):
        """Send one alert event on every configured channel."""
        if settings.ALERT_EMAIL_RECIPIENTS:
            deliver(alert, event, NotificationChannel.EMAIL, send_email)
        if settings.ALERT_WEBHOOK_URL:
            retries = 0 if self.webhook_down else settings.ALERT_WEBHOOK_RETRIES
            sent = deliver(
                alert,
                event,
                NotificationChannel.WEBHOOK,
                lambda alert, event: send_webhook(alert, event, retries),
            )
            self.webhook_down = not sent.ok


def deliver(alert, event, channel, send):
    """Run one sender, record its outcome, and swallow its failure."""
    try:
        attempts = send(alert, event)
    except Exception as error:
        logger.warning("alert %s: %s notification failed: %s", alert.pk, channel, error)
        attempts = getattr(error, "attempts", 1)
        ok, text = False, f"{type(error).__name__}: {error}"
    else:
        ok, text = True, ""
    return Notification.objects.create(
        alert=alert,
        channel=channel,
        event=event,
        ok=ok,
        attempts=attempts,
        error=text,
        sent_at=timezone.now(),
    )


def alert_context(alert, event):
    """Return what a message says about an alert event."""
    rule = alert.rule
    link = ""
    if settings.ALERT_CONSOLE_URL:
        path = reverse("admin:alerts_alert_change", args=[alert.pk])
        link = settings.ALERT_CONSOLE_URL.rstrip("/") + path
    return {
        "event": str(event),
        "alert_id": alert.pk,
        "rule": rule.name,
        "severity": rule.severity,
        "metric": rule.metric,
        "condition": rule.condition,
        # The monitored database the subject is on.
        "target": alert.database.name,
        "subject": alert.subject,
        "detail": alert.detail,
        "value": alert.value,
        "threshold": rule.threshold,
        "state": alert.state,
        "first_seen": alert.first_seen.isoformat(),
        "last_seen": alert.last_seen.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "link": link,
    }


def send_email(alert, event):
    """E-mail the configured recipients through Django's mail settings."""
    context = alert_context(alert, event)
    verb = "FIRING" if event == "fired" else "RESOLVED"
    rule = alert.rule
    subject = (
        f"[perfconsole] {verb} {rule.severity}: {rule.name} — {alert.subject}"
        f" on {alert.database.name}"
    )
    body = render_to_string("alerts/notification_email.txt", context)
    send_mail(
        subject[:250],
        body,
        settings.DEFAULT_FROM_EMAIL,
        settings.ALERT_EMAIL_RECIPIENTS,
        # Django's default is no timeout: a hung mail server would hang the task.
        connection=get_connection(timeout=settings.ALERT_EMAIL_TIMEOUT_SECONDS),
    )
    return 1


class WebhookFailed(Exception):
    """The webhook failed on every attempt."""

    def __init__(self, message, attempts):
        super().__init__(message)
        self.attempts = attempts


def send_webhook(alert, event, retries):
    """POST the alert as JSON; retry with backoff; return the attempts used."""
    payload = json.dumps(alert_context(alert, event)).encode()
    attempts = retries + 1
    errors = []
    for attempt in range(1, attempts + 1):
        try:
            post_json(settings.ALERT_WEBHOOK_URL, payload)
            return attempt
        except (urllib.error.URLError, OSError, ValueError) as error:
            errors.append(f"attempt {attempt}: {error}")
            if attempt < attempts:
                time.sleep(settings.ALERT_WEBHOOK_BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise WebhookFailed("; ".join(errors), attempts)


def post_json(url, payload):
    """POST a JSON body; raise on a network error or a non-2xx answer."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"ALERT_WEBHOOK_URL must be http(s)://, not {url!r}")
    request = urllib.request.Request(
        url,
        data=payload,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "perfconsole"},
    )
    # urlopen raises HTTPError (a URLError) for 4xx and 5xx answers.
    with urllib.request.urlopen(
        request, timeout=settings.ALERT_WEBHOOK_TIMEOUT_SECONDS
    ) as response:
        response.read(1024)
