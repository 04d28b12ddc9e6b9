"""Register the console's own database as the first monitored database."""

from django.db import migrations


def add_console_database(apps, schema_editor):
    MonitoredDatabase = apps.get_model("history", "MonitoredDatabase")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (name,) = cursor.fetchone()
    MonitoredDatabase.objects.get_or_create(
        is_console_database=True, defaults={"name": name}
    )


class Migration(migrations.Migration):
    dependencies = [("history", "0001_history")]

    operations = [migrations.RunPython(add_console_database, migrations.RunPython.noop)]
