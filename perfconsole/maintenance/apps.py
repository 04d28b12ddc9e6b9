from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MaintenanceConfig(AppConfig):
    name = "perfconsole.maintenance"
    label = "maintenance"
    verbose_name = "Maintenance"

    def ready(self):
        from .registry import write_registered

        # The list of views reads the registered refreshables from a table.
        post_migrate.connect(write_registered, sender=self)

    def schedules(self):
        """Return this app's schedules (see schedules.console_schedules)."""
        from django.conf import settings
        from django_q.models import Schedule

        return [
            {
                "name": "refresh-materialized-views",
                "func": "perfconsole.maintenance.tasks.refresh_all_views",
                "schedule_type": Schedule.CRON,
                "cron": settings.MAINTENANCE_REFRESH_CRON,
            },
            {
                "name": "prune-history",
                "func": "perfconsole.maintenance.tasks.prune_history",
                "schedule_type": Schedule.CRON,
                "cron": settings.MAINTENANCE_PRUNE_CRON,
            },
        ]
