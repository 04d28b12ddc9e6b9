from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("history", "0008_monitored_targets"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="monitoreddatabase",
            options={
                "permissions": [
                    ("test_connection", "Can test a monitored database's connection")
                ]
            },
        ),
    ]
