"""Alerts name their target: a foreign key to the monitored database.

Existing alerts are the console's own database's, except those of the
"database unreachable" rule, whose subject is the name of the target.
"""

import django.db.models.deletion
from django.db import migrations, models


def backfill_targets(apps, schema_editor):
    """Give every existing alert its target."""
    Alert = apps.get_model("alerts", "Alert")
    MonitoredDatabase = apps.get_model("history", "MonitoredDatabase")
    if not Alert.objects.exists():
        return
    console = MonitoredDatabase.objects.filter(is_console_database=True).first()
    if console is None:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            (name,) = cursor.fetchone()
        console, _ = MonitoredDatabase.objects.get_or_create(
            is_console_database=True, defaults={"name": name}
        )
    for target in MonitoredDatabase.objects.exclude(pk=console.pk):
        Alert.objects.filter(
            rule__metric="database_unreachable", subject=target.name
        ).update(database=target)
    Alert.objects.filter(database__isnull=True).update(database=console)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0006_database_unreachable_rule"),
        ("history", "0009_test_connection_permission"),
    ]

    operations = [
        migrations.AddField(
            model_name="alert",
            name="database",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="alerts",
                to="history.monitoreddatabase",
                verbose_name="target",
            ),
        ),
        migrations.RunPython(backfill_targets, migrations.RunPython.noop),
    ]
