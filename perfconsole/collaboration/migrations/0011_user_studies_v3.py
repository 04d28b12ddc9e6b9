"""get_user_collaborative_studies v3: same results, a plan that stays linear.

v2 (0010) became 10 times slower than v1 for a user on thousands of studies
once PostgreSQL cached a generic plan for it (see the v3 SQL file). Reversing
puts v2 back.
"""

from django.db import migrations

from perfconsole.collaboration.sqlfiles import load_sql


class Migration(migrations.Migration):
    dependencies = [
        ("collaboration", "0010_user_studies_paged"),
    ]

    operations = [
        migrations.RunSQL(
            [load_sql("functions/get_user_collaborative_studies_v3.sql")],
            reverse_sql=[load_sql("functions/get_user_collaborative_studies_v2.sql")],
        ),
    ]
