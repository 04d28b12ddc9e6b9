from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "perfconsole.health"
    label = "health"
    verbose_name = "Health"
