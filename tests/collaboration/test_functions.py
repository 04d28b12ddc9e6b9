"""The two SQL functions return the right numbers on a hand-made fixture."""

import json
import uuid
from decimal import Decimal

import pytest
from django.db import DataError, transaction

from .conftest import analytics, run_sql

pytestmark = pytest.mark.django_db


def test_it_reports_the_last_seven_days(acme):
    [row] = analytics(acme.org.pk, 7)
    assert row["total_members"] == 3
    # Alice and Bob acted; Dora acted too but is not a member.
    assert row["active_members"] == 2
    assert row["member_engagement_pct"] == Decimal("66.67")
    assert row["studies_created"] == 1
    assert row["total_activities"] == 5
    # Django reads jsonb as text.
    assert json.loads(row["activity_by_type"]) == {
        "study_created": 0,
        "status_changed": 0,
        "collaborator_added": 0,
        "file_uploaded": 1,
        "comment_added": 1,
        "comment_resolved": 0,
        "review_requested": 2,
        "review_completed": 1,
    }
    assert row["reviews_requested"] == 2
    assert row["reviews_resolved"] == 1
    assert row["avg_resolution_hours"] == Decimal("4.00")


def test_it_widens_the_window_with_more_days(acme):
    [row] = analytics(acme.org.pk, 30)
    assert row["active_members"] == 3
    assert row["member_engagement_pct"] == Decimal("100.00")
    assert row["total_activities"] == 6
    assert row["studies_created"] == 1
    [row] = analytics(acme.org.pk, 60)
    assert row["studies_created"] == 2
    assert row["reviews_requested"] == 3
    assert row["reviews_resolved"] == 2
    # (4 h + 48 h) / 2
    assert row["avg_resolution_hours"] == Decimal("26.00")


def test_it_gives_zeros_for_an_empty_window(acme):
    [row] = analytics(acme.org.pk, 0)
    assert row["total_activities"] == 0
    assert row["active_members"] == 0
    assert row["avg_resolution_hours"] is None
    assert row["total_members"] == 3


def test_it_gives_no_row_for_an_unknown_organization(acme):
    assert analytics(uuid.uuid4(), 30) == []


@pytest.mark.parametrize("days", [-1, None, 100_000])
def test_it_refuses_a_bad_number_of_days(acme, days):
    with pytest.raises(DataError, match="p_days must be between 0 and 36600"):
        with transaction.atomic():
            analytics(acme.org.pk, days)


def test_it_lists_a_users_studies_most_recently_active_first(acme):
    rows = run_sql(
        "SELECT study_title, organization_name, role, permissions,"
        " collaborator_count, last_activity_at"
        " FROM get_user_collaborative_studies(%s)",
        [acme.alice.pk],
    )
    assert [row[0] for row in rows] == ["Sleep", "Soil"]
    sleep, soil = rows
    assert sleep[1:3] == ("Acme", "owner")
    assert json.loads(sleep[3]) == {"manage": True}
    assert sleep[4] == 3
    assert soil[4] == 2
    # Sleep's newest activity is Dora's file, 2 hours ago.
    assert abs((acme.now - sleep[5]).total_seconds() - 2 * 3600) < 1
    assert abs((acme.now - soil[5]).total_seconds() - 20 * 86400) < 1


def test_it_gives_the_role_of_the_asking_user(acme):
    rows = run_sql(
        "SELECT study_title, role FROM get_user_collaborative_studies(%s)",
        [acme.dora.pk],
    )
    assert rows == [("Sleep", "viewer")]


def test_it_gives_nothing_for_an_unknown_user(acme):
    rows = run_sql("SELECT * FROM get_user_collaborative_studies(%s)", [uuid.uuid4()])
    assert rows == []
