from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "perfconsole.core"
    label = "core"
    verbose_name = "Console"
