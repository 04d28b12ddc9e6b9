from django.apps import AppConfig


class EmbeddedConfig(AppConfig):
    name = "perfconsole.embedded"
    label = "embedded"
    verbose_name = "Embedded PostgreSQL"
