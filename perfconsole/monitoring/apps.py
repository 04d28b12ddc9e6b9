from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "perfconsole.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"
