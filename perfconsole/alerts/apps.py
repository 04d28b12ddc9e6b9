from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "perfconsole.alerts"
    label = "alerts"
    verbose_name = "Alerts"

    def schedules(self):
        """Return this app's schedules, which manage.py setupschedules writes."""
        from django_q.models import Schedule

        return [
            {
                "name": "evaluate-alerts",
                "func": "perfconsole.alerts.tasks.evaluate_alerts",
                "schedule_type": Schedule.MINUTES,
                "minutes": 5,
            }
        ]
