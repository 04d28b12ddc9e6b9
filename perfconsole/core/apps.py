from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "perfconsole.core"
    label = "core"
    verbose_name = "Console"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from perfconsole.core.db import tag_connection

        connection_created.connect(tag_connection, dispatch_uid="perfconsole-tag")
