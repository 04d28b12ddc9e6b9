"""The database enforces the collaboration rules."""

import uuid

import pytest
from django.db import IntegrityError, transaction

from perfconsole.collaboration.models import (
    CollaborationActivity,
    Organization,
    OrganizationMember,
    ProductUser,
    Study,
    StudyCollaborator,
)

from .conftest import run_sql

pytestmark = pytest.mark.django_db


def rejected(statement, params=None):
    """Run a statement that must be refused; return the error."""
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        run_sql(statement, params)
    return caught.value


def test_it_allows_one_membership_per_organization_and_user(acme):
    with pytest.raises(IntegrityError), transaction.atomic():
        OrganizationMember.objects.create(organization=acme.org, user=acme.bob)


def test_it_allows_one_collaborator_row_per_study_and_user(acme):
    with pytest.raises(IntegrityError), transaction.atomic():
        StudyCollaborator.objects.create(study=acme.s1, user=acme.bob)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE organization_members SET role = 'boss'",
        "UPDATE studies SET status = 'lost'",
        "UPDATE study_collaborators SET role = 'admin'",
        "UPDATE collaboration_activity SET activity_type = 'liked'",
    ],
)
def test_it_rejects_values_outside_the_check_constraints(acme, statement):
    error = rejected(statement)
    assert "check constraint" in str(error)


def test_it_rejects_a_membership_of_an_unknown_organization(acme):
    error = rejected(
        "INSERT INTO organization_members (id, organization_id, user_id, role,"
        " joined_at) VALUES (%s, %s, %s, 'member', now())",
        [uuid.uuid4(), uuid.uuid4(), acme.bob.pk],
    )
    assert "organization_members_organization_id_fkey" in str(error)


def test_it_rejects_activity_on_an_unknown_study(acme):
    error = rejected(
        "INSERT INTO collaboration_activity (id, study_id, created_at,"
        " activity_type, details) VALUES (%s, %s, now(), 'comment_added', '{}')",
        [uuid.uuid4(), uuid.uuid4()],
    )
    assert "collaboration_activity_study_id_fkey" in str(error)


def test_it_deletes_what_belongs_to_a_deleted_organization(acme):
    acme.org.delete()
    assert not Study.objects.filter(pk__in=[acme.s1.pk, acme.s2.pk]).exists()
    assert not CollaborationActivity.objects.filter(study_id=acme.s1.pk).exists()
    assert not StudyCollaborator.objects.filter(study_id=acme.s1.pk).exists()
    assert not OrganizationMember.objects.filter(organization_id=acme.org.pk).exists()
    assert Organization.objects.filter(pk=acme.other.pk).exists()


def test_it_keeps_history_when_a_user_is_deleted(acme):
    acme.alice.delete()
    assert not OrganizationMember.objects.filter(user_id=acme.alice.pk).exists()
    assert not StudyCollaborator.objects.filter(user_id=acme.alice.pk).exists()
    # Activity, invitations and studies stay, without the user.
    assert CollaborationActivity.objects.filter(user=None).count() == 4
    assert OrganizationMember.objects.get(user=acme.bob).invited_by_id is None
    assert Study.objects.get(pk=acme.s1.pk).created_by_id is None
    assert ProductUser.objects.count() == 3
