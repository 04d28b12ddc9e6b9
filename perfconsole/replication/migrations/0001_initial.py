from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Replication",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
            ],
            options={
                "verbose_name": "replication",
                "verbose_name_plural": "replication",
                "permissions": [("view_replication", "Can view replication")],
                "managed": False,
                "default_permissions": (),
            },
        ),
    ]
