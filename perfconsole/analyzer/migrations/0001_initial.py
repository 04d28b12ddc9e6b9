from django.db import migrations


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="AnalyzerReport",
            fields=[],
            options={
                "verbose_name": "analyzer report",
                "verbose_name_plural": "analyzer report",
                "permissions": [("view_report", "Can view the analyzer report")],
                "managed": False,
                "default_permissions": (),
            },
        ),
    ]
