"""get_organization_analytics v5: at most half an hour of raw rows.

organization_analytics_window(org, start, end) holds v4's body with the
window as arguments and reads the window's first partial hour from its
nearer side (see sql/functions/organization_analytics_window_v1.sql); v5
calls it for [now() - p_days, now()]. Same results. Reversing puts v4 back.
"""

from django.db import migrations

from perfconsole.collaboration.sqlfiles import load_sql

WINDOW_SIGNATURE = "organization_analytics_window(uuid, timestamptz, timestamptz)"


class Migration(migrations.Migration):
    dependencies = [
        ("collaboration", "0012_organization_member_counts"),
    ]

    operations = [
        migrations.RunSQL(
            [load_sql("functions/organization_analytics_window_v1.sql")],
            reverse_sql=[f"DROP FUNCTION {WINDOW_SIGNATURE}"],
        ),
        migrations.RunSQL(
            [load_sql("functions/get_organization_analytics_v5.sql")],
            reverse_sql=[load_sql("functions/get_organization_analytics_v4.sql")],
        ),
    ]
