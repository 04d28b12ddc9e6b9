from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "perfconsole.alerts"
    label = "alerts"
    verbose_name = "Alerts"
