"""An index for the newest activity across studies (the admin's changelist)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("collaboration", "0002_performance"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="collaborationactivity",
            index=models.Index(
                fields=["-created_at"], name="collaboration_activity_created"
            ),
        ),
    ]
