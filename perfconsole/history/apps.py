from django.apps import AppConfig


class HistoryConfig(AppConfig):
    name = "perfconsole.history"
    label = "history"
    verbose_name = "Statistics history"

    def ready(self):
        # The dashboard's and the monitored databases' admins live in
        # modules of their own (not admin.py).
        from . import (
            dashboard_admin,  # noqa: F401
            databases_admin,  # noqa: F401
        )

    def schedules(self):
        """Return this app's schedules (see maintenance.schedules).

        django-q2 schedules in whole minutes, so the collection interval is
        rounded to minutes (at least one).
        """
        from django.conf import settings
        from django_q.models import Schedule

        return [
            {
                "name": "collect-statistics",
                "func": "perfconsole.history.tasks.collect_statistics",
                "schedule_type": Schedule.MINUTES,
                "minutes": max(1, settings.STATS_INTERVAL_SECONDS // 60),
            },
            {
                "name": "rollup-statistics",
                "func": "perfconsole.history.tasks.rollup_statistics",
                "schedule_type": Schedule.HOURLY,
            },
            {
                "name": "prune-statistics",
                "func": "perfconsole.history.tasks.prune_statistics",
                "schedule_type": Schedule.HOURLY,
            },
        ]
