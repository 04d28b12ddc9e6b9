"""get_user_collaborative_studies v2 and its paged form.

v2 keeps the signature, results and order, and no longer degrades with the
number of the user's studies (see its SQL file). The paged form,
get_user_collaborative_studies(user, page size, keyset cursor), returns the
same rows a page at a time. Reversing drops the paged form and puts v1 back.
"""

from django.db import migrations

from perfconsole.collaboration.sqlfiles import load_sql

PAGED_SIGNATURE = (
    "get_user_collaborative_studies(uuid, integer, timestamptz, timestamptz, uuid)"
)


class Migration(migrations.Migration):
    dependencies = [
        ("collaboration", "0009_members_list_order_index"),
    ]

    operations = [
        migrations.RunSQL(
            [load_sql("functions/get_user_collaborative_studies_v2.sql")],
            reverse_sql=[load_sql("functions/get_user_collaborative_studies_v1.sql")],
        ),
        migrations.RunSQL(
            [load_sql("functions/get_user_collaborative_studies_paged_v1.sql")],
            reverse_sql=[f"DROP FUNCTION {PAGED_SIGNATURE}"],
        ),
    ]
