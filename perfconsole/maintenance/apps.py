from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "perfconsole.maintenance"
    label = "maintenance"
    verbose_name = "Maintenance"
