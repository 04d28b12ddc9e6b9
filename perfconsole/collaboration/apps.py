from django.apps import AppConfig


class CollaborationConfig(AppConfig):
    name = "perfconsole.collaboration"
    label = "collaboration"
    verbose_name = "Collaboration schema"
