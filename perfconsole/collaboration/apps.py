from django.apps import AppConfig, apps


class CollaborationConfig(AppConfig):
    name = "perfconsole.collaboration"
    label = "collaboration"
    verbose_name = "Collaboration schema"

    def ready(self):
        # Registers the `database` system check.
        from perfconsole.collaboration import checks  # noqa: F401

        if apps.is_installed("perfconsole.maintenance"):
            from perfconsole.collaboration import refreshables

            refreshables.register()

    def schedules(self):
        """Return this app's schedules, which manage.py setupschedules writes."""
        from django.conf import settings
        from django_q.models import Schedule

        from perfconsole.collaboration.models import ROLLUP_NAME

        return [
            {
                "name": "refresh-activity-rollup",
                "func": "perfconsole.maintenance.tasks.refresh_view_task",
                "args": repr((ROLLUP_NAME,)),
                "schedule_type": Schedule.MINUTES,
                "minutes": settings.MAINTENANCE_ROLLUP_MINUTES,
            }
        ]
