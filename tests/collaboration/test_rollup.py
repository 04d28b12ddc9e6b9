"""get_organization_analytics v3 answers from the activity rollup, exactly.

Every test compares v3 with organization_activity_scan (v2's raw scan) over
the same window, and checks which way v3 answered: the rollup while it is
clean, the scan once a change marks the organization dirty.
"""

import random
from datetime import timedelta

import pytest

from perfconsole.collaboration.models import (
    CollaborationActivity,
    Organization,
    OrganizationMember,
    ProductUser,
    Study,
)

from .conftest import analytics, fetch_dicts, run_sql

pytestmark = pytest.mark.django_db

WINDOWS = [0, 1, 2, 7, 30, 60, 400]
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


def scan(org_id, days):
    return fetch_dicts(
        "SELECT * FROM organization_activity_scan("
        "  %s, now() - make_interval(days => %s), now())",
        [org_id, days],
    )


def rebuild(full=False, until=None):
    [(covered,)] = run_sql(
        "SELECT refresh_organization_activity_rollup(%s, %s)", [full, until]
    )
    return covered


def rollup_rows():
    """Return the rollup's rows, to compare one way of building with another."""
    return (
        run_sql("SELECT * FROM organization_activity_hourly ORDER BY 1, 2"),
        run_sql("SELECT * FROM organization_member_last_activity ORDER BY 1, 2"),
    )


def covered_until(org_id):
    [(covered,)] = run_sql("SELECT organization_rollup_covered_until(%s)", [org_id])
    return covered


def db_now():
    """Return the transaction's now(), where every window of v3 ends."""
    [(now,)] = run_sql("SELECT now()")
    return now


def assert_same_as_scan(*org_ids):
    for org_id in org_ids:
        for days in WINDOWS:
            assert analytics(org_id, days) == scan(org_id, days), (org_id, days)


def record(study, user, at, kind):
    return CollaborationActivity.objects.create(
        study=study, user=user, created_at=at, activity_type=kind
    )


def test_it_answers_from_the_rollup_once_built(acme):
    # Never built; the fixture's activity is backdated, so it marked dirty.
    assert covered_until(acme.org.pk) is None

    covered = rebuild()

    assert covered_until(acme.org.pk) == covered
    assert run_sql(
        "SELECT sum(total) FROM organization_activity_hourly"
        " WHERE organization_id = %s",
        [acme.org.pk],
    ) == [(8,)]
    [row] = analytics(acme.org.pk, 60)
    assert (row["total_activities"], row["reviews_resolved"]) == (8, 2)
    assert_same_as_scan(acme.org.pk, acme.other.pk)


def test_activity_since_the_rebuild_counts_at_once(acme):
    rebuild()
    now = db_now()
    # In the tail (after covered_until, up to now): a completion that
    # resolves the request of 3 h ago held in the rollup, a new open
    # request, and Carol acting again (last active 20 days ago).
    record(acme.s1, acme.alice, now - timedelta(seconds=40), "review_completed")
    record(acme.s1, acme.bob, now - timedelta(seconds=30), "review_requested")
    record(acme.s2, acme.carol, now - timedelta(seconds=20), "comment_added")

    assert covered_until(acme.org.pk) is not None
    [row] = analytics(acme.org.pk, 7)
    assert row["active_members"] == 3
    assert row["reviews_requested"] == 3
    assert row["reviews_resolved"] == 2
    assert_same_as_scan(acme.org.pk)


def test_the_window_start_inside_an_hour_is_exact(acme):
    rebuild()
    start = db_now() - timedelta(days=7)
    # Just inside and just outside the 7-day window, in its first partial
    # hour: a request resolved in the rollup, and one that is not counted.
    record(acme.s1, acme.carol, start + timedelta(seconds=1), "review_requested")
    record(acme.s1, acme.carol, start - timedelta(seconds=1), "comment_added")
    rebuild()

    [row] = analytics(acme.org.pk, 7)
    assert row["reviews_requested"] == 3
    assert row["active_members"] == 3
    assert_same_as_scan(acme.org.pk)


@pytest.mark.parametrize(
    "change",
    [
        "backdated insert",
        "update",
        "delete",
        "study moved",
        "study deleted",
        "truncate",
    ],
)
def test_a_change_the_rollup_cannot_see_falls_back_to_the_scan(acme, change):
    rebuild()
    now = db_now()
    if change == "backdated insert":
        record(acme.s1, acme.carol, now - timedelta(days=3), "comment_added")
    elif change == "update":
        CollaborationActivity.objects.filter(study=acme.s2).update(
            activity_type="file_uploaded"
        )
    elif change == "delete":
        CollaborationActivity.objects.filter(activity_type="review_completed").delete()
    elif change == "study moved":
        Study.objects.filter(pk=acme.s1.pk).update(organization=acme.other)
    elif change == "study deleted":
        Study.objects.filter(pk=acme.s1.pk).delete()
    else:
        run_sql("TRUNCATE collaboration_activity")

    assert covered_until(acme.org.pk) is None
    assert_same_as_scan(acme.org.pk, acme.other.pk)
    rebuild()
    assert covered_until(acme.org.pk) is not None
    assert_same_as_scan(acme.org.pk, acme.other.pk)


def test_an_ordinary_insert_update_or_delete_marks_nothing(acme):
    rebuild()

    row = record(acme.s1, acme.bob, db_now(), "comment_added")
    CollaborationActivity.objects.filter(pk=row.pk).update(details={"edited": True})
    CollaborationActivity.objects.filter(pk=row.pk).delete()

    assert run_sql("SELECT count(*) FROM organization_activity_rollup_dirty") == [(0,)]


def test_a_rollup_newer_than_the_window_is_not_used(acme):
    rebuild()
    # As if the rebuild had committed after this transaction started.
    run_sql(
        "UPDATE organization_activity_rollup_state"
        " SET covered_until = now() + interval '1 minute'"
    )

    assert_same_as_scan(acme.org.pk)


def random_history(rng, now):
    """Create three organizations with random members, studies and helpers.

    Return (organizations, a function making random activity rows between
    `oldest` and `newest` seconds ago).
    """
    users = ProductUser.objects.bulk_create(
        ProductUser(email=f"u{i}@rollup.test", full_name=f"U{i}") for i in range(12)
    )
    orgs = Organization.objects.bulk_create(
        Organization(name=f"Org {i}", slug=f"org-{i}") for i in range(3)
    )
    for org in orgs:
        for user in rng.sample(users, 7):
            OrganizationMember.objects.create(organization=org, user=user)
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
                # Some activity by users since deleted (NULL).
                user=rng.choice([*users, None]),
                # Reviews weighted up, so requests meet completions.
                activity_type=rng.choice(
                    TYPES + ["review_requested", "review_completed"] * 3
                ),
                created_at=now - timedelta(seconds=rng.uniform(newest, oldest)),
            )
            for _ in range(count)
        )

    return orgs, studies, users, random_rows


def test_random_activity_gives_the_same_numbers_as_the_scan():
    rng = random.Random(7)
    now = db_now()
    orgs, studies, users, random_rows = random_history(rng, now)
    random_rows(600, 100 * 86400, 120)
    # Two rows at the same instant: peers of one completion.
    twin = now - timedelta(days=3)
    for kind in ("review_requested", "review_completed"):
        record(studies[0], users[0], twin, kind)
    rebuild()
    random_rows(40, 59, 0)  # the tail

    for org in orgs:
        assert covered_until(org.pk) is not None
    assert_same_as_scan(*(org.pk for org in orgs))


@pytest.mark.parametrize("minute", [0, 10, 29, 30, 50])
def test_the_first_partial_hour_is_exact_read_from_either_side(minute):
    # Before minute 30 the rollup's hour is read minus the raw rows before
    # the start; from minute 30 the raw rows after the start are added.
    rng = random.Random(minute)
    now = db_now()
    orgs, studies, users, random_rows = random_history(rng, now)
    random_rows(400, 100 * 86400, 120)
    hour = (now - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    start = hour + timedelta(minutes=minute, seconds=30 if minute else 0)
    study = studies[0]
    lone = ProductUser.objects.create(email="lone@rollup.test", full_name="Lone")
    OrganizationMember.objects.create(organization=study.organization, user=lone)
    quiet = Study.objects.create(
        organization=study.organization, title="Quiet", created_at=hour
    )
    # Around the start: requests before it resolved after it, a member last
    # active just before it; on a quiet study, requests before and after it
    # resolved only in the tail, after the rebuild.
    for on, minutes, kind, user in [
        (study, -20, "review_requested", users[1]),
        (study, -8, "review_requested", users[5]),
        (study, -1, "comment_added", lone),
        (study, 5, "review_completed", users[3]),
        (quiet, -7, "review_requested", users[4]),
        (quiet, 10, "review_requested", users[4]),
    ]:
        record(on, user, start + timedelta(minutes=minutes), kind)
    rebuild()
    for on in (study, quiet):
        record(on, users[6], now - timedelta(seconds=30), "review_completed")

    for org in orgs:
        assert covered_until(org.pk) is not None
        for end in ["now()", "now() - interval '1 day'"]:
            read, scanned = (
                fetch_dicts(f"SELECT * FROM {function}(%s, %s, {end})", [org.pk, start])
                for function in (
                    "organization_analytics_window",
                    "organization_activity_scan",
                )
            )
            assert read == scanned, (org.pk, end)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_catching_up_builds_what_a_full_rebuild_builds(seed):
    rng = random.Random(seed)
    now = db_now()
    orgs, studies, users, random_rows = random_history(rng, now)
    random_rows(500, 100 * 86400, 120)
    # Built up to ten days ago, halfway through an hour, then caught up:
    # requests open then are resolved by completions since, hours gain rows,
    # users act again.
    until = now - timedelta(days=10)
    until = until.replace(minute=30, second=0, microsecond=0)
    study = studies[0]
    for minutes, kind in [
        (-20, "review_completed"),
        (-20, "review_requested"),  # resolved by its peer, not again later
        (-10, "review_requested"),  # open at `until`
        (10, "comment_added"),  # the same hour, after `until`
        (15, "review_completed"),
    ]:
        record(study, users[0], until + timedelta(minutes=minutes), kind)
    assert rebuild(until=until) == until
    rebuild()
    caught_up = rollup_rows()
    rebuild(full=True)

    assert caught_up == rollup_rows()
    assert_same_as_scan(*(org.pk for org in orgs))


def test_catching_up_rebuilds_only_the_dirty_organizations_fully():
    rng = random.Random(4)
    now = db_now()
    orgs, studies, users, random_rows = random_history(rng, now)
    random_rows(300, 100 * 86400, 120)
    rebuild(until=now - timedelta(days=10))
    # Backdated rows mark their organizations dirty.
    random_rows(20, 50 * 86400, 40 * 86400)
    [(dirty,)] = run_sql(
        "SELECT count(DISTINCT organization_id) FROM organization_activity_rollup_dirty"
    )
    assert dirty >= 1

    rebuild()

    assert run_sql("SELECT count(*) FROM organization_activity_rollup_dirty") == [(0,)]
    caught_up = rollup_rows()
    rebuild(full=True)
    assert caught_up == rollup_rows()
    assert_same_as_scan(*(org.pk for org in orgs))


def test_each_call_is_planned_for_its_own_window():
    # A generic plan cached after five calls ignores how much activity the
    # window holds; both raw-reading functions opt out of it.
    for signature in (
        "get_organization_analytics(uuid,integer)",
        "organization_analytics_window(uuid,timestamptz,timestamptz)",
        "organization_activity_scan(uuid,timestamptz,timestamptz)",
    ):
        [(config,)] = run_sql(
            "SELECT proconfig FROM pg_proc WHERE oid = %s::regprocedure", [signature]
        )
        assert "plan_cache_mode=force_custom_plan" in config
