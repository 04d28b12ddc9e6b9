"""The materialized view refreshes concurrently and matches a direct aggregate."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Count, Max, Q

from perfconsole.collaboration.demo import SCALES, load_demo
from perfconsole.collaboration.models import (
    CollaborationActivity,
    Organization,
    StudyCollaborator,
    TeamProductivityAnalytics,
)

from .conftest import run_sql

pytestmark = pytest.mark.django_db(transaction=True)


def direct_aggregate():
    """Compute the view's numbers from the tables with the ORM."""
    now = datetime.now(UTC)
    activity = {
        row["study__organization"]: row
        for row in CollaborationActivity.objects.values("study__organization").annotate(
            week=Count("pk", filter=Q(created_at__gte=now - timedelta(days=7))),
            month=Count("pk", filter=Q(created_at__gte=now - timedelta(days=30))),
            last=Max("created_at"),
        )
    }
    collaborators = dict(
        StudyCollaborator.objects.values_list("study__organization").annotate(
            Count("user", distinct=True)
        )
    )
    expected = {}
    for org in Organization.objects.annotate(
        members=Count("memberships", distinct=True),
        studies_n=Count("studies", distinct=True),
    ):
        act = activity.get(org.pk, {})
        expected[org.pk] = (
            org.name,
            org.members,
            org.studies_n,
            collaborators.get(org.pk, 0),
            act.get("week", 0),
            act.get("month", 0),
            act.get("last"),
        )
    return expected


def view_rows():
    return {
        row.pk: (
            row.organization_name,
            row.member_count,
            row.studies_created,
            row.collaborators,
            row.activity_last_7_days,
            row.activity_last_30_days,
            row.last_activity_at,
        )
        for row in TeamProductivityAnalytics.objects.all()
    }


def test_it_refreshes_concurrently_and_matches_the_tables(acme):
    run_sql("REFRESH MATERIALIZED VIEW team_productivity_analytics")
    before = run_sql("SELECT max(computed_at) FROM team_productivity_analytics")
    run_sql("REFRESH MATERIALIZED VIEW CONCURRENTLY team_productivity_analytics")
    rows = view_rows()
    assert rows == direct_aggregate()
    assert rows[acme.org.pk][1:6] == (3, 2, 4, 5, 6)
    after = run_sql("SELECT max(computed_at) FROM team_productivity_analytics")
    assert after > before


def test_it_matches_on_generated_data():
    load_demo(SCALES["small"], seed=3)
    run_sql("REFRESH MATERIALIZED VIEW CONCURRENTLY team_productivity_analytics")
    rows = view_rows()
    assert len(rows) == 100
    assert rows == direct_aggregate()


def test_readers_see_rows_during_a_concurrent_refresh(acme, second_connection):
    run_sql("REFRESH MATERIALIZED VIEW team_productivity_analytics")
    reader = second_connection()
    refresher = second_connection(autocommit=False)
    refresher.execute(
        "REFRESH MATERIALIZED VIEW CONCURRENTLY team_productivity_analytics"
    )
    # The refresh holds its lock until commit; a reader is not blocked.
    reader.execute("SET lock_timeout = '1s'")
    count = reader.execute("SELECT count(*) FROM team_productivity_analytics")
    assert count.fetchone()[0] == 2
    refresher.commit()
