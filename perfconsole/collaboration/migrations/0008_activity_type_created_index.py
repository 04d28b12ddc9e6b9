"""An index for the activity list filtered by type, newest first (the admin).

Without it a filter on a rare type (study_created, 2 % of the rows, mostly
old) walks collaboration_activity_created through millions of rows of other
types: its page 100 took 4-6 s at `large`.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("collaboration", "0007_activity_rollup_state"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="collaborationactivity",
            index=models.Index(
                fields=["activity_type", "-created_at"],
                name="collaboration_activity_type",
            ),
        ),
    ]
