from django.apps import AppConfig


class ReplicationConfig(AppConfig):
    name = "perfconsole.replication"
    label = "replication"
    verbose_name = "Replication"
