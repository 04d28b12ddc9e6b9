"""Alert rules, the alerts they raise, and the notifications sent about them."""

import operator

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class Metric(models.TextChoices):
    QUERY_MEAN_TIME_MS = "query_mean_time_ms", "Query mean time (ms)"
    INDEX_USAGE_PCT = "index_usage_pct", "Index usage ratio (%)"
    SEQ_SCAN_PCT = "seq_scan_pct", "Sequential scan rate (%)"
    DEAD_TUPLES = "dead_tuples", "Dead tuples"
    MATVIEW_STALE_HOURS = "matview_stale_hours", "Hours since last view refresh"
    REFRESH_FAILED = "refresh_failed", "Last view refresh failed (1 = yes)"
    CACHE_HIT_PCT = "cache_hit_pct", "Cache hit rate (%)"
    INVALID_INDEX = "invalid_index", "Invalid index (1 = yes)"
    REPLICATION_LAG_BYTES = "replication_lag_bytes", "Replication lag (bytes)"
    REPLICATION_LAG_SECONDS = "replication_lag_s", "Replication lag (seconds)"
    INACTIVE_SLOT_BYTES = "inactive_slot_bytes", "WAL kept by an inactive slot (bytes)"
    DATABASE_UNREACHABLE = "database_unreachable", "Database unreachable (1 = yes)"


# Metrics judged over the rule's window when the statistics history covers it.
WINDOW_METRICS = {
    Metric.QUERY_MEAN_TIME_MS,
    Metric.INDEX_USAGE_PCT,
    Metric.SEQ_SCAN_PCT,
    Metric.CACHE_HIT_PCT,
}
# A month of minutes: longer windows read hourly rows, not what alerts need.
MAX_WINDOW_MINUTES = 30 * 24 * 60
# Metrics that are percentages, and metrics that are yes/no flags (value 1).
PERCENT_METRICS = {Metric.INDEX_USAGE_PCT, Metric.SEQ_SCAN_PCT, Metric.CACHE_HIT_PCT}
FLAG_METRICS = {
    Metric.REFRESH_FAILED,
    Metric.INVALID_INDEX,
    Metric.DATABASE_UNREACHABLE,
}


class Comparison(models.TextChoices):
    GT = "gt", ">"
    GTE = "gte", "≥"
    LT = "lt", "<"
    LTE = "lte", "≤"


COMPARE = {
    Comparison.GT: operator.gt,
    Comparison.GTE: operator.ge,
    Comparison.LT: operator.lt,
    Comparison.LTE: operator.le,
}


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class AlertRule(models.Model):
    """A condition on one metric; each subject breaching it gets an alert."""

    name = models.CharField(max_length=200, unique=True)
    metric = models.CharField(max_length=40, choices=Metric.choices)
    comparison = models.CharField(max_length=3, choices=Comparison.choices)
    threshold = models.FloatField()
    severity = models.CharField(
        max_length=10, choices=Severity.choices, default=Severity.WARNING
    )
    tables = ArrayField(
        models.CharField(max_length=200),
        blank=True,
        default=list,
        help_text="Table names (no schema); query rules: statements naming one.",
    )
    query_ids = ArrayField(
        models.BigIntegerField(),
        blank=True,
        default=list,
        help_text="Query rules: extra critical pg_stat_statements query ids.",
    )
    min_rows = models.PositiveBigIntegerField(
        default=0, help_text="Table rules: only tables with this many rows."
    )
    window_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_WINDOW_MINUTES)],
        help_text="Query, cache hit, index usage and sequential-scan rules judge "
        "the last this many minutes of the statistics history (lifetime "
        "counters while the history does not cover them yet).",
    )
    cooldown_minutes = models.PositiveIntegerField(
        default=60,
        help_text="Firing again this soon reopens the last alert, unnotified.",
    )
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        """Check that the threshold and comparison make sense for the metric."""
        errors = {}
        if self.threshold is not None:
            if self.threshold < 0:
                errors["threshold"] = "The threshold cannot be negative."
            elif self.metric in PERCENT_METRICS and self.threshold > 100:
                errors["threshold"] = "A percentage threshold must be 0–100."
            elif self.metric in FLAG_METRICS and self.threshold > 1:
                errors["threshold"] = "This metric is 1 when true: use ≥ 1."
        if self.metric in FLAG_METRICS and self.comparison not in (
            Comparison.GTE,
            Comparison.GT,
            None,
            "",
        ):
            errors["comparison"] = "This metric is 1 when true: use ≥ 1."
        if self.metric in FLAG_METRICS and (
            self.comparison == Comparison.GT and self.threshold == 1
        ):
            errors["comparison"] = "Value 1 is never > 1: use ≥ 1."
        if errors:
            raise ValidationError(errors)

    def breached_by(self, value):
        """Return whether one observed value breaches this rule."""
        return value is not None and COMPARE[self.comparison](value, self.threshold)

    @property
    def condition(self):
        comparison = self.get_comparison_display()
        return f"{self.get_metric_display()} {comparison} {self.threshold:g}"


class AlertState(models.TextChoices):
    FIRING = "firing", "Firing"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


OPEN_STATES = [AlertState.FIRING, AlertState.ACKNOWLEDGED]


class Alert(models.Model):
    """One subject (a table, a query, a view…) of one target breaching one rule."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    # The monitored database the subject is on: removing a target removes
    # its alerts with the rest of its history.
    database = models.ForeignKey(
        "history.MonitoredDatabase",
        on_delete=models.CASCADE,
        related_name="alerts",
        verbose_name="target",
    )
    subject = models.CharField(max_length=300)
    detail = models.TextField(
        blank=True,
        help_text="What the rule saw besides the value: the statement's text, "
        "the table's row count, the refresh's error.",
    )
    value = models.FloatField()
    state = models.CharField(
        max_length=12, choices=AlertState.choices, default=AlertState.FIRING
    )
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-last_seen"]
        permissions = [("acknowledge_alert", "Can acknowledge alerts")]
        constraints = [
            # Evaluating again updates the open alert instead of adding one.
            models.UniqueConstraint(
                fields=["rule", "database", "subject"],
                condition=Q(state__in=OPEN_STATES),
                name="alerts_alert_one_open_per_target_subject",
            )
        ]
        indexes = [
            # The admin list filters by state and sorts by last_seen.
            models.Index(
                fields=["state", "-last_seen"], name="alerts_alert_state_seen"
            ),
        ]

    def __str__(self):
        return f"{self.rule.name}: {self.subject} on {self.database.name}"


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook"


class NotificationEvent(models.TextChoices):
    FIRED = "fired", "Fired"
    RESOLVED = "resolved", "Resolved"


class Notification(models.Model):
    """One delivery of one alert event on one channel, successful or not."""

    alert = models.ForeignKey(
        Alert, on_delete=models.CASCADE, related_name="notifications"
    )
    channel = models.CharField(max_length=10, choices=NotificationChannel.choices)
    event = models.CharField(max_length=10, choices=NotificationEvent.choices)
    ok = models.BooleanField()
    attempts = models.PositiveSmallIntegerField(default=1)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at"]

    def __str__(self):
        return f"{self.get_channel_display()} {self.event} for alert {self.alert_id}"
