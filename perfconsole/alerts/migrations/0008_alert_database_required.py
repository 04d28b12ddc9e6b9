"""Every alert has its target; one open alert per rule, target and subject.

Apart from the backfill (0007): PostgreSQL refuses to alter a table with
pending foreign key checks in the same transaction.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [("alerts", "0007_alert_database")]

    operations = [
        migrations.AlterField(
            model_name="alert",
            name="database",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="alerts",
                to="history.monitoreddatabase",
                verbose_name="target",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="alert", name="alerts_alert_one_open_per_subject"
        ),
        migrations.AddConstraint(
            model_name="alert",
            constraint=models.UniqueConstraint(
                condition=Q(state__in=["firing", "acknowledged"]),
                fields=("rule", "database", "subject"),
                name="alerts_alert_one_open_per_target_subject",
            ),
        ),
    ]
