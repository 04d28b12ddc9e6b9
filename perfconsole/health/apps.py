from django.apps import AppConfig
from django.core import checks


class HealthConfig(AppConfig):
    name = "perfconsole.health"
    label = "health"
    verbose_name = "Health"

    def ready(self):
        # Importing the module registers its health checks, in its order.
        from perfconsole.health import checks as health_checks  # noqa: F401
        from perfconsole.health.thresholds import check_threshold_setting

        checks.register(check_threshold_setting)
