"""user_collaborative_studies, which get_user_collaborative_studies v4 reads,
stays exact.

Kept by triggers on study_collaborators, collaboration_activity and studies
(migration 0015). Every test makes real writes, then compares the table with
the same figures computed from the raw tables.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from perfconsole.collaboration.demo import SCALES, load_demo
from perfconsole.collaboration.models import (
    CollaborationActivity,
    ProductUser,
    Study,
    StudyCollaborator,
)

from .conftest import run_sql, waiting_behind

pytestmark = pytest.mark.django_db

RAW = """
    SELECT sc.study_id, sc.user_id, sc.role, sc.permissions::text, sc.added_at,
           s.title, s.status, s.created_at, s.organization_id,
           (SELECT count(*) FROM study_collaborators AS c
             WHERE c.study_id = sc.study_id),
           (SELECT max(a.created_at) FROM collaboration_activity AS a
             WHERE a.study_id = sc.study_id)
      FROM study_collaborators AS sc
      JOIN studies AS s ON s.id = sc.study_id
"""
STORED = """
    SELECT study_id, user_id, role, permissions::text, added_at, study_title,
           study_status, study_created_at, organization_id, collaborators,
           last_activity_at
      FROM user_collaborative_studies
"""


def assert_exact():
    stored = run_sql(STORED)
    assert stored, "the tests need rows to compare"
    assert sorted(stored) == sorted(run_sql(RAW))


def comment(study, user, when):
    return CollaborationActivity.objects.create(
        study=study, user=user, activity_type="comment_added", created_at=when
    )


def test_the_table_starts_exact_and_the_function_reads_it(acme):
    assert_exact()
    alice_on_s1 = ("study_id = %s AND user_id = %s", [acme.s1.pk, acme.alice.pk])
    run_sql(
        "UPDATE user_collaborative_studies SET collaborators = 40"
        f" WHERE {alice_on_s1[0]}",
        alice_on_s1[1],
    )
    [(count,)] = run_sql(
        "SELECT collaborator_count FROM get_user_collaborative_studies(%s)"
        " WHERE study_id = %s",
        [acme.alice.pk, acme.s1.pk],
    )
    assert count == 40


def add_collaborator(acme):
    StudyCollaborator.objects.create(study=acme.s2, user=acme.bob, role="editor")


def remove_collaborator(acme):
    StudyCollaborator.objects.filter(study=acme.s1, user=acme.dora).delete()


def change_role(acme):
    StudyCollaborator.objects.filter(study=acme.s1).update(
        role="viewer", permissions={"read": True}
    )


def move_collaborator(acme):
    StudyCollaborator.objects.filter(study=acme.s1, user=acme.bob).update(study=acme.s2)


def newer_activity(acme):
    comment(acme.s2, acme.carol, timezone.now())


def older_activity(acme):
    comment(acme.s1, acme.bob, timezone.now() - timedelta(days=300))


def several_studies_at_once(acme):
    now = timezone.now()
    CollaborationActivity.objects.bulk_create(
        CollaborationActivity(
            study=study, activity_type="file_uploaded", created_at=now - delay
        )
        for study in (acme.s1, acme.s2)
        for delay in (timedelta(minutes=1), timedelta(minutes=5))
    )


def delete_newest_activity(acme):
    CollaborationActivity.objects.filter(study=acme.s1).order_by(
        "-created_at"
    ).first().delete()


def delete_all_activity_of_a_study(acme):
    CollaborationActivity.objects.filter(study=acme.s2).delete()


def backdate_activity(acme):
    CollaborationActivity.objects.filter(study=acme.s1).update(
        created_at=timezone.now() - timedelta(days=100)
    )


def move_activity(acme):
    CollaborationActivity.objects.filter(study=acme.s1).update(study=acme.s2)


def study_moves_and_is_backdated(acme):
    Study.objects.filter(pk=acme.s1.pk).update(
        organization=acme.other, created_at=timezone.now() - timedelta(days=900)
    )


def study_renamed(acme):
    Study.objects.filter(pk=acme.s1.pk).update(title="Renamed", status="archived")


def study_deleted(acme):
    Study.objects.filter(pk=acme.s1.pk).delete()


def user_deleted(acme):
    ProductUser.objects.filter(pk=acme.alice.pk).delete()


def truncate_activity(acme):
    run_sql("TRUNCATE collaboration_activity")


@pytest.mark.parametrize(
    "change",
    [
        add_collaborator,
        remove_collaborator,
        change_role,
        move_collaborator,
        newer_activity,
        older_activity,
        several_studies_at_once,
        delete_newest_activity,
        delete_all_activity_of_a_study,
        backdate_activity,
        move_activity,
        study_moves_and_is_backdated,
        study_renamed,
        study_deleted,
        user_deleted,
        truncate_activity,
    ],
    ids=lambda change: change.__name__,
)
def test_every_change_keeps_the_table_exact(acme, change):
    before = sorted(run_sql(STORED))
    change(acme)
    assert_exact()
    if change is not older_activity:  # Not the newest: nothing to change.
        assert sorted(run_sql(STORED)) != before, "the change must touch the table"


def test_the_demo_loader_leaves_the_table_exact():
    # The loader disables the insert triggers for its COPY, then rebuilds.
    load_demo(SCALES["small"], seed=3)
    assert_exact()


def test_truncating_the_collaborators_empties_the_table(acme):
    run_sql("TRUNCATE study_collaborators")
    assert run_sql("SELECT count(*) FROM user_collaborative_studies") == [(0,)]


ADD_ACTIVITY = (
    "INSERT INTO collaboration_activity"
    " (id, created_at, activity_type, details, study_id)"
    " VALUES (gen_random_uuid(), now(), 'comment_added', '{}', %(study)s)"
)
ADD_COLLABORATOR = (
    "INSERT INTO study_collaborators"
    " (id, role, permissions, added_at, study_id, user_id)"
    " VALUES (gen_random_uuid(), 'viewer', '{}', now(), %(study)s, %(user)s)"
)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "first, second",
    [(ADD_ACTIVITY, ADD_COLLABORATOR), (ADD_COLLABORATOR, ADD_ACTIVITY)],
    ids=["activity first", "collaborator first"],
)
def test_concurrent_activity_and_collaborator_both_count(
    acme, second_connection, first, second
):
    """The second writer waits for the first, then sees its row: the new
    collaborator's row ends with the new activity either way."""
    params = {"study": acme.s2.pk, "user": acme.dora.pk}
    writing = second_connection(autocommit=False)
    writing.execute(first, params)
    with waiting_behind(writing, second_connection, second, params):
        pass

    assert_exact()
    [(latest,)] = run_sql(
        "SELECT last_activity_at FROM user_collaborative_studies"
        " WHERE study_id = %s AND user_id = %s",
        [acme.s2.pk, acme.dora.pk],
    )
    assert latest > timezone.now() - timedelta(minutes=1)


ADD_ACTIVITIES = (
    "INSERT INTO collaboration_activity"
    " (id, created_at, activity_type, details, study_id)"
    " SELECT gen_random_uuid(), now(), 'comment_added', '{}', study"
    " FROM unnest(%(studies)s::uuid[]) AS study"
)


@pytest.mark.django_db(transaction=True)
def test_two_bulk_inserts_over_the_same_studies_do_not_deadlock(
    acme, second_connection
):
    """A bulk insert locks its studies' rows in study order, not its own.

    The first writer holds one study's rows. The second inserts for both
    studies, the other one first, and waits on the held study before it locks
    the other. The first can then write the other study too and commit.
    """
    low, high = sorted([acme.s1.pk, acme.s2.pk])
    first = second_connection(autocommit=False)
    first.execute(ADD_ACTIVITIES, {"studies": [low]})
    with waiting_behind(
        first, second_connection, ADD_ACTIVITIES, {"studies": [high, low]}
    ):
        # Had the second writer locked the other study first, this would
        # deadlock and PostgreSQL would end one of the two.
        first.execute(ADD_ACTIVITIES, {"studies": [high]})

    assert_exact()
