"""Materialized views as the database sees them, and the history of refreshes."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from . import registry
from .registry import MATERIALIZED_VIEW


class ViewRefresh(models.Model):
    """One refresh of one materialized view: who asked, when, how it went."""

    class Trigger(models.TextChoices):
        USER = "user", "User"
        SCHEDULE = "schedule", "Schedule"
        COMMAND = "command", "Command"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (another refresh was running)"

    IN_PROGRESS = (Status.QUEUED, Status.RUNNING)

    view_name = models.CharField(max_length=200)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    task_id = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    concurrently = models.BooleanField(null=True, blank=True)
    # The server process of the refresh's own session, which holds the view's
    # refresh lock while the row says "running": a row whose backend does not
    # hold it has lost its worker.
    backend_pid = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = "view refresh"
        verbose_name_plural = "view refresh history"
        ordering = ["-requested_at", "-id"]
        indexes = [
            # The views page and the duplicate check read the latest rows of one
            # view; pruning reads by age.
            models.Index(
                fields=["view_name", "-requested_at"],
                name="maintenance_refresh_view_idx",
            ),
            models.Index(fields=["requested_at"], name="maintenance_refresh_age_idx"),
        ]

    def __str__(self):
        return f"{self.view_name} ({self.get_status_display()})"

    @property
    def in_progress(self):
        return self.status in self.IN_PROGRESS


class RegisteredRefreshable(models.Model):
    """A refreshable an app registered (registry.py), for the SQL view to list.

    Written from the registry after every migrate; never edited by hand.
    """

    name = models.CharField(max_length=200, primary_key=True)
    kind = models.CharField(max_length=40)
    state_function = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "maintenance_registered_refreshable"
        default_permissions = ()

    def __str__(self):
        return self.name


class MaterializedView(models.Model):
    """A materialized view found in pg_class, with its latest refresh.

    The refreshables the apps register (registry.py) are listed too, each
    with its own kind. Backed by the SQL view maintenance_materialized_view
    (sql/views/).
    """

    name = models.CharField(max_length=200, primary_key=True)
    schema_name = models.CharField(max_length=200)
    view_name = models.CharField(max_length=200)
    populated = models.BooleanField()
    size_bytes = models.BigIntegerField(null=True)
    row_estimate = models.BigIntegerField(null=True)
    has_unique_index = models.BooleanField()
    last_status = models.CharField(
        max_length=20, blank=True, choices=ViewRefresh.Status.choices
    )
    last_started_at = models.DateTimeField(null=True)
    last_finished_at = models.DateTimeField(null=True)
    last_duration_ms = models.IntegerField(null=True)
    last_error = models.TextField(blank=True)
    last_success_at = models.DateTimeField(null=True)
    age = models.DurationField(null=True)
    in_progress = models.BooleanField()
    kind = models.CharField(max_length=40)
    owner = models.CharField(max_length=200)
    # Owned by the console's role, or by a role it is a member of.
    owned = models.BooleanField()

    class Meta:
        managed = False
        db_table = "maintenance_materialized_view"
        ordering = ["name"]
        default_permissions = ("view",)
        permissions = [
            ("refresh_materialized_view", "Can refresh materialized views"),
        ]

    def __str__(self):
        return self.name

    @property
    def registered(self):
        """Return the registered refreshable listed as this row, or None."""
        if self.kind == MATERIALIZED_VIEW:
            return None
        return registry.get(self.name)

    @property
    def can_refresh_concurrently(self):
        return self.populated and self.has_unique_index

    @property
    def managed(self):
        """Whether the console refreshes this view (button, schedule, alerts)."""
        return not self.unmanaged_reason

    @property
    def unmanaged_reason(self):
        """Say why the console only lists this view; empty when it manages it.

        MAINTENANCE_MANAGED_VIEWS names the managed views; when it is empty,
        they are the views owned by the console's role (REFRESH needs the
        owner). What the apps register is always managed.
        """
        if self.kind != MATERIALIZED_VIEW:
            return "" if self.registered else "no longer registered by its app"
        listed = settings.MAINTENANCE_MANAGED_VIEWS
        if listed:
            qualified = f"{self.schema_name}.{self.view_name}"
            if self.name in listed or qualified in listed:
                return ""
            return "not in MAINTENANCE_MANAGED_VIEWS"
        if self.owned:
            return ""
        return (
            f"owned by the role {self.owner}, not by the console's role: "
            "refreshed by its owner"
        )
