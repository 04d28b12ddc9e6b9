from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("benchmarks", "0003_scaling"),
    ]

    operations = [
        migrations.AddField(
            model_name="scalingpoint",
            name="buffers_hit",
            field=models.FloatField(
                default=0, help_text="shared buffers hit, mean per call"
            ),
        ),
        migrations.AddField(
            model_name="scalingpoint",
            name="buffers_read",
            field=models.FloatField(
                default=0, help_text="shared buffers read (not in PostgreSQL's cache)"
            ),
        ),
    ]
