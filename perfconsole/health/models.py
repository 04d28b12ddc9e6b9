"""Permission holders for the health pages; no tables behind them."""

from django.db import models


class HealthCheck(models.Model):
    """The health checks page."""

    class Meta:
        managed = False
        db_table = "health_check_page"
        default_permissions = ()
        permissions = [("view_health_checks", "Can view the health checks")]
        verbose_name = "health check"
        verbose_name_plural = "health checks"

    def __str__(self):
        return "health checks"


class Activity(models.Model):
    """The live activity and locks page, and its cancel / terminate actions."""

    class Meta:
        managed = False
        db_table = "health_activity_page"
        default_permissions = ()
        permissions = [
            ("view_activity", "Can view live activity and locks"),
            ("cancel_backend", "Can cancel a running query"),
            ("terminate_backend", "Can terminate a session"),
        ]
        verbose_name = "live activity and locks"
        verbose_name_plural = "live activity and locks"

    def __str__(self):
        return "live activity and locks"
