"""The member counts get_organization_analytics v4 reads stay exact.

organization_member_counts and organization_member_activity_hourly are kept
by triggers on organization_members and organization_member_last_activity
(migration 0012). Every test makes real writes, then compares both tables
with the same figures computed from the raw tables, and the function with
the raw scan (organization_activity_scan) over several windows.
"""

import random
from datetime import timedelta

import pytest
from django.db import transaction

from perfconsole.collaboration.models import (
    CollaborationActivity,
    Organization,
    OrganizationMember,
    ProductUser,
    Study,
)

from .conftest import analytics, fetch_dicts, run_sql, waiting_behind

pytestmark = pytest.mark.django_db

WINDOWS = [1, 2, 7, 30, 60, 400]
TYPES = [choice for choice, _ in CollaborationActivity.ActivityType.choices]


@pytest.fixture(autouse=True)
def empty_rollup():
    """Start from a rollup never built (tests that commit may have built one)."""
    run_sql(
        "DELETE FROM organization_activity_hourly;"
        "DELETE FROM organization_member_last_activity;"
        "DELETE FROM organization_activity_rollup_dirty;"
        "UPDATE organization_activity_rollup_state SET covered_until = NULL"
    )


def rebuild(full=False, until=None):
    [(covered,)] = run_sql(
        "SELECT refresh_organization_activity_rollup(%s, %s)", [full, until]
    )
    return covered


def db_now():
    [(now,)] = run_sql("SELECT now()")
    return now


def stored_counts():
    return (
        run_sql("SELECT organization_id, members FROM organization_member_counts"),
        run_sql(
            "SELECT organization_id, hour, members"
            "  FROM organization_member_activity_hourly"
        ),
    )


def raw_counts():
    """Return what the two tables must hold, computed from the raw tables."""
    return (
        run_sql(
            "SELECT organization_id, count(*) FROM organization_members GROUP BY 1"
        ),
        run_sql(
            "SELECT l.organization_id, date_trunc('hour', l.last_activity_at, 'UTC'),"
            "       count(*)"
            "  FROM organization_member_last_activity AS l"
            "  JOIN organization_members AS m"
            "    ON m.organization_id = l.organization_id AND m.user_id = l.user_id"
            " GROUP BY 1, 2"
        ),
    )


def assert_tables_exact():
    stored, raw = stored_counts(), raw_counts()
    assert sorted(stored[0]) == sorted(raw[0])
    assert sorted(stored[1]) == sorted(raw[1])


def covered_until(org_id):
    [(covered,)] = run_sql("SELECT organization_rollup_covered_until(%s)", [org_id])
    return covered


def assert_exact(*org_ids):
    """Check both tables, then the function against the raw scan."""
    assert_tables_exact()
    for org_id in org_ids:
        # The rollup answers (not the scan), so the counts are what is tested.
        assert covered_until(org_id) is not None
        for days in WINDOWS:
            expected = fetch_dicts(
                "SELECT * FROM organization_activity_scan("
                "  %s, now() - make_interval(days => %s), now())",
                [org_id, days],
            )
            assert analytics(org_id, days) == expected, (org_id, days)


def members_of(org_id, days=7):
    [row] = analytics(org_id, days)
    return row["total_members"], row["active_members"]


def test_the_tables_start_exact_and_the_function_reads_them(acme):
    rebuild()

    assert_exact(acme.org.pk, acme.other.pk)
    assert members_of(acme.org.pk) == (3, 2)
    # Read from the tables, not from the members: a wrong count shows.
    run_sql(
        "UPDATE organization_member_counts SET members = 40 WHERE organization_id = %s",
        [acme.org.pk],
    )
    run_sql(
        "UPDATE organization_member_activity_hourly SET members = members + 10"
        " WHERE organization_id = %s AND hour = ("
        "     SELECT max(hour) FROM organization_member_activity_hourly"
        "      WHERE organization_id = %s)",
        [acme.org.pk, acme.org.pk],
    )
    assert members_of(acme.org.pk) == (40, 12)


@pytest.mark.parametrize(
    "change, total, active",
    [
        # Dora, active on Acme's study 2 h ago, joins Acme.
        ("join", 4, 3),
        ("new role", 3, 2),
        # Bob (active 3 h ago) moves to Other; Carol becomes Dora.
        ("move to another organization", 2, 1),
        ("another user", 3, 3),
        ("leave", 2, 1),
        # Alice deleted: her membership goes with her (ON DELETE CASCADE).
        ("user deleted", 2, 1),
        ("organization deleted", 3, 2),
        ("truncate", 0, 0),
    ],
)
def test_member_changes_keep_the_counts_exact(acme, change, total, active):
    rebuild()
    members = OrganizationMember.objects.filter(organization=acme.org)
    if change == "join":
        OrganizationMember.objects.create(organization=acme.org, user=acme.dora)
    elif change == "new role":
        members.update(role="admin")
    elif change == "move to another organization":
        members.filter(user=acme.bob).update(organization=acme.other)
    elif change == "another user":
        members.filter(user=acme.carol).update(user=acme.dora)
    elif change == "leave":
        members.filter(user=acme.bob).delete()
    elif change == "user deleted":
        ProductUser.objects.filter(pk=acme.alice.pk).delete()
    elif change == "organization deleted":
        Organization.objects.filter(pk=acme.other.pk).delete()
    else:
        run_sql("TRUNCATE organization_members")

    assert_tables_exact()
    if covered_until(acme.org.pk) is None:
        # Deleting Alice set her activity's user to NULL: Acme is dirty.
        assert change == "user deleted"
        rebuild()
    assert members_of(acme.org.pk) == (total, active)
    assert_exact(acme.org.pk)


def random_organizations(rng, now):
    """Create three organizations with random members, studies and helpers.

    Return (organizations, users, a function making random activity rows
    between `oldest` and `newest` seconds ago, one changing memberships).
    """
    users = ProductUser.objects.bulk_create(
        ProductUser(email=f"u{i}@counts.test", full_name=f"U{i}") for i in range(14)
    )
    orgs = Organization.objects.bulk_create(
        Organization(name=f"Org {i}", slug=f"org-{i}") for i in range(3)
    )
    OrganizationMember.objects.bulk_create(
        OrganizationMember(organization=org, user=user)
        for org in orgs
        for user in rng.sample(users, 7)
    )
    studies = [
        Study.objects.create(
            organization=rng.choice(orgs),
            title=f"Study {i}",
            created_at=now - timedelta(days=rng.uniform(0, 90)),
        )
        for i in range(8)
    ]

    def random_rows(count, oldest, newest):
        CollaborationActivity.objects.bulk_create(
            CollaborationActivity(
                study=rng.choice(studies),
                user=rng.choice([*users, None]),
                activity_type=rng.choice(TYPES),
                created_at=now - timedelta(seconds=rng.uniform(newest, oldest)),
            )
            for _ in range(count)
        )

    def churn():
        """Remove some memberships, add others, move one (bulk statements)."""
        existing = list(OrganizationMember.objects.order_by("pk"))
        leaving = rng.sample(existing, 3)
        OrganizationMember.objects.filter(pk__in=[m.pk for m in leaving]).delete()
        taken = set(
            OrganizationMember.objects.values_list("organization_id", "user_id")
        )
        free = [
            (org, user)
            for org in orgs
            for user in users
            if (org.pk, user.pk) not in taken
        ]
        joining = rng.sample(free, 4)
        OrganizationMember.objects.bulk_create(
            OrganizationMember(organization=org, user=user) for org, user in joining
        )
        mover = OrganizationMember.objects.order_by("?").first()
        taken = set(
            OrganizationMember.objects.values_list("organization_id", "user_id")
        )
        targets = [o for o in orgs if (o.pk, mover.user_id) not in taken]
        if targets:
            OrganizationMember.objects.filter(pk=mover.pk).update(
                organization=rng.choice(targets)
            )

    return orgs, random_rows, churn


@pytest.mark.parametrize("seed", [1, 2])
def test_rebuilds_and_member_churn_keep_the_counts_exact(seed):
    rng = random.Random(seed)
    now = db_now()
    orgs, random_rows, churn = random_organizations(rng, now)
    org_ids = [org.pk for org in orgs]
    random_rows(400, 100 * 86400, 120)
    rebuild(until=now - timedelta(days=5))
    assert_exact(*org_ids)

    # Catching up moves members' last activity to later hours (updates).
    churn()
    rebuild()
    assert_exact(*org_ids)

    # Backdated rows mark organizations dirty: their rows are deleted and
    # inserted again.
    random_rows(30, 60 * 86400, 50 * 86400)
    churn()
    rebuild()
    assert_exact(*org_ids)

    churn()
    rebuild(full=True)
    random_rows(10, 59, 0)  # the tail: members active since the rebuild
    assert_exact(*org_ids)


def test_truncating_the_rollup_empties_the_member_hours(acme):
    rebuild()
    assert run_sql("SELECT count(*) FROM organization_member_activity_hourly") != [(0,)]

    run_sql("TRUNCATE organization_member_last_activity")

    assert_tables_exact()
    assert run_sql("SELECT count(*) FROM organization_member_activity_hourly") == [(0,)]


@pytest.mark.django_db(transaction=True)
def test_a_member_joining_during_a_rebuild_is_counted_once(acme, second_connection):
    rebuild()
    # A backdated row marks Acme dirty: the next rebuild moves Dora's last
    # activity on Acme from 2 h ago to 30 min ago.
    CollaborationActivity.objects.create(
        study=acme.s1,
        user=acme.dora,
        activity_type="comment_added",
        created_at=db_now() - timedelta(minutes=30),
    )
    joining = second_connection(autocommit=False)
    joining.execute(
        "INSERT INTO organization_members"
        " (id, role, joined_at, organization_id, user_id)"
        " VALUES (gen_random_uuid(), 'member', now(), %s, %s)",
        [acme.org.pk, acme.dora.pk],
    )
    # The rebuild cannot see Dora's membership yet: it waits for it.
    with waiting_behind(
        joining, second_connection, "SELECT refresh_organization_activity_rollup()"
    ):
        pass

    assert members_of(acme.org.pk, days=1) == (4, 3)
    with transaction.atomic():  # one now() for the function and the scan
        assert_exact(acme.org.pk, acme.other.pk)
