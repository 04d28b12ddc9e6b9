from django.apps import AppConfig


class CollaborationConfig(AppConfig):
    name = "perfconsole.collaboration"
    label = "collaboration"
    verbose_name = "Collaboration schema"

    def ready(self):
        # Registers the `database` system check.
        from perfconsole.collaboration import checks  # noqa: F401
