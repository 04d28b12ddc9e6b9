"""get_user_collaborative_studies, unpaged and paged, against the raw tables.

The data ties on purpose: studies share their newest activity time and their
creation time, and some have no activity, so the order's every tiebreak and
the cursor's NULL case are exercised.
"""

import json
import random
import uuid
from datetime import timedelta

import pytest
from django.db import DataError, transaction
from django.utils import timezone

from perfconsole.collaboration.models import (
    CollaborationActivity,
    Organization,
    ProductUser,
    Study,
    StudyCollaborator,
)

from .conftest import fetch_dicts

pytestmark = pytest.mark.django_db

COLUMNS = (
    "study_id, study_title, study_status, study_created_at, organization_id,"
    " organization_name, role, permissions, added_at, collaborator_count,"
    " last_activity_at"
)


@pytest.fixture
def tied():
    """Build 40 studies for one user, with many ties; return that user."""
    rng = random.Random(14)
    now = timezone.now().replace(microsecond=0)
    user = ProductUser.objects.create(email="many@x.test", full_name="Many")
    others = [
        ProductUser.objects.create(email=f"o{i}@x.test", full_name=f"O{i}")
        for i in range(5)
    ]
    orgs = [
        Organization.objects.create(name=f"Org {i}", slug=f"org-{i}") for i in range(3)
    ]
    activity_times = [now - timedelta(hours=h) for h in (1, 5, 30)]
    for i in range(40):
        study = Study.objects.create(
            organization=rng.choice(orgs),
            title=f"Study {i}",
            status="active",
            created_at=now - timedelta(days=rng.choice([10, 20])),
        )
        StudyCollaborator.objects.create(
            study=study,
            user=user,
            role=rng.choice(["owner", "editor", "viewer"]),
            permissions={"n": i},
        )
        for other in rng.sample(others, rng.randint(0, 3)):
            StudyCollaborator.objects.create(study=study, user=other, role="viewer")
        if i % 5 == 0:
            continue  # No activity: last_activity_at is NULL.
        times = [rng.choice(activity_times) for _ in range(rng.randint(1, 3))]
        CollaborationActivity.objects.bulk_create(
            CollaborationActivity(
                study=study, user=user, created_at=t, activity_type="comment_added"
            )
            for t in times
        )
    # A study of someone else, which must not show up.
    Study.objects.create(organization=orgs[0], title="Not mine", status="draft")
    return user


def raw_rows(user):
    """Compute the function's rows from the tables, in its order, in Python."""
    rows = []
    for mine in StudyCollaborator.objects.filter(user=user).select_related(
        "study__organization"
    ):
        study = mine.study
        latest = (
            CollaborationActivity.objects.filter(study=study)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        rows.append(
            {
                "study_id": study.pk,
                "study_title": study.title,
                "study_status": study.status,
                "study_created_at": study.created_at,
                "organization_id": study.organization.pk,
                "organization_name": study.organization.name,
                "role": mine.role,
                "permissions": mine.permissions,
                "added_at": mine.added_at,
                "collaborator_count": study.collaborators.count(),
                "last_activity_at": latest,
            }
        )
    # Stable sorts, last key first: id, created_at DESC, activity DESC NULLS LAST.
    rows.sort(key=lambda row: row["study_id"])
    rows.sort(key=lambda row: row["study_created_at"], reverse=True)
    with_activity = [row for row in rows if row["last_activity_at"] is not None]
    without = [row for row in rows if row["last_activity_at"] is None]
    with_activity.sort(key=lambda row: row["last_activity_at"], reverse=True)
    return with_activity + without


def decoded(rows):
    """Parse the jsonb column (Django reads it as text from a raw cursor)."""
    for row in rows:
        row["permissions"] = json.loads(row["permissions"])
    return rows


def unpaged(user_id):
    return decoded(
        fetch_dicts(
            f"SELECT {COLUMNS} FROM get_user_collaborative_studies(%s)", [user_id]
        )
    )


def page(user_id, size, after=None):
    """Return one page; `after` is the previous page's last row."""
    cursor = [None, None, None]
    if after is not None:
        cursor = [after["last_activity_at"], after["study_created_at"]]
        cursor.append(after["study_id"])
    return decoded(
        fetch_dicts(
            f"SELECT {COLUMNS} FROM get_user_collaborative_studies(%s, %s, %s, %s, %s)",
            [user_id, size, *cursor],
        )
    )


def all_pages(user_id, size):
    """Follow the cursor to the last page; fail if it never ends."""
    rows, last = [], None
    for _ in range(100):
        chunk = page(user_id, size, last)
        assert len(chunk) <= size
        if not chunk:
            return rows
        rows.extend(chunk)
        last = chunk[-1]
    pytest.fail("the pages never end: a cursor returns rows it was given")


def test_the_data_has_the_ties_the_tests_need(tied):
    rows = raw_rows(tied)
    assert len(rows) == 40
    keys = [(row["last_activity_at"], row["study_created_at"]) for row in rows]
    assert len(set(keys)) < 10
    assert sum(row["last_activity_at"] is None for row in rows) == 8


def test_the_unpaged_call_gives_the_raw_rows_in_order(tied):
    assert unpaged(tied.pk) == raw_rows(tied)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 40, 1000])
def test_the_pages_concatenated_give_the_unpaged_rows(tied, size):
    assert all_pages(tied.pk, size) == raw_rows(tied)


def test_a_page_starts_right_after_its_cursor(tied):
    rows = raw_rows(tied)
    for index, row in enumerate(rows):
        assert page(tied.pk, 3, row) == rows[index + 1 : index + 4]


def test_the_first_page_is_the_head_of_the_unpaged_rows(tied):
    assert page(tied.pk, 5) == raw_rows(tied)[:5]


def test_an_unknown_user_gets_an_empty_page(tied):
    assert page(uuid.uuid4(), 10) == []


@pytest.mark.parametrize("size", [0, -1, 1001, 2**31 - 1, None])
def test_a_bad_page_size_is_refused(tied, size):
    with pytest.raises(DataError, match="p_page_size must be between 1 and 1000"):
        with transaction.atomic():
            page(tied.pk, size)


@pytest.mark.parametrize(
    "cursor",
    [
        [timezone.now(), None, None],
        [None, timezone.now(), None],
        [None, None, uuid.uuid4()],
        [timezone.now(), None, uuid.uuid4()],
    ],
)
def test_an_incomplete_cursor_is_refused(tied, cursor):
    with pytest.raises(DataError, match="a cursor needs p_after_created"):
        with transaction.atomic():
            fetch_dicts(
                "SELECT * FROM get_user_collaborative_studies(%s, %s, %s, %s, %s)",
                [tied.pk, 10, *cursor],
            )
