"""seeddemo: deterministic, skewed, complete, loaded with COPY."""

import hashlib
from collections import Counter
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from perfconsole.collaboration.demo import SCALES, Generator, Scale
from perfconsole.collaboration.models import (
    CollaborationActivity,
    OrganizationMember,
    Study,
    StudyCollaborator,
)

from .conftest import run_sql

ANCHOR = datetime(2026, 6, 29, tzinfo=UTC)
TINY = Scale(20, 300, 1_200, 150, 600, 3_000)


def fingerprint(scale, seed):
    """Hash every generated line of every table."""
    generator = Generator(scale, seed, ANCHOR)
    digest = hashlib.sha256()
    for table in (
        generator.organizations,
        generator.users,
        generator.memberships,
        generator.studies,
        generator.collaborators,
        generator.activity,
    ):
        for line in table():
            digest.update(line.encode())
    return digest.hexdigest()


def test_it_generates_the_same_rows_for_the_same_seed():
    assert fingerprint(TINY, 1) == fingerprint(TINY, 1)
    assert fingerprint(TINY, 1) != fingerprint(TINY, 2)


@pytest.mark.django_db(transaction=True)
def test_it_loads_small_data_skewed_and_complete():
    out = StringIO()
    call_command("seeddemo", scale="small", seed=5, stdout=out, stderr=StringIO())
    assert "Demo data (small, seed 5) loaded" in out.getvalue()
    small = SCALES["small"]
    counts = dict(
        run_sql(
            "SELECT 'orgs', count(*) FROM organizations UNION ALL"
            " SELECT 'users', count(*) FROM users UNION ALL"
            " SELECT 'activity', count(*) FROM collaboration_activity"
        )
    )
    assert counts["orgs"] == small.organizations
    assert counts["users"] == small.users
    assert abs(counts["activity"] - small.activity) < small.activity * 0.05
    # Every role, status and activity type occurs.
    assert set(OrganizationMember.objects.values_list("role", flat=True)) == {
        choice for choice, _ in OrganizationMember.Role.choices
    }
    assert set(StudyCollaborator.objects.values_list("role", flat=True)) == {
        choice for choice, _ in StudyCollaborator.Role.choices
    }
    assert set(Study.objects.values_list("status", flat=True)) == {
        choice for choice, _ in Study.Status.choices
    }
    assert set(
        CollaborationActivity.objects.values_list("activity_type", flat=True)
    ) == {choice for choice, _ in CollaborationActivity.ActivityType.choices}
    # A few very large organizations.
    sizes = sorted(
        Counter(
            OrganizationMember.objects.values_list("organization_id", flat=True)
        ).values(),
        reverse=True,
    )
    assert sizes[0] > 10 * sizes[len(sizes) // 2]
    # Power users in many organizations.
    per_user = Counter(OrganizationMember.objects.values_list("user_id", flat=True))
    assert max(per_user.values()) >= 5
    # Heavier in recent weeks: more in the last 30 days than in the 30 before.
    [(recent, before)] = run_sql(
        "SELECT count(*) FILTER (WHERE created_at >= now() - interval '30 days'),"
        "       count(*) FILTER (WHERE created_at < now() - interval '30 days'"
        "                          AND created_at >= now() - interval '60 days')"
        "  FROM collaboration_activity"
    )
    assert recent > 1.5 * before
    # Indexes and foreign keys are back after the load.
    out = StringIO()
    call_command("verifyperf", stdout=out)
    assert "All 18 performance objects are in place." in out.getvalue()
    # The activity rollup is built, and nothing is left marked dirty.
    assert "covers activity before" in out.getvalue()
    assert run_sql("SELECT count(*) FROM organization_activity_rollup_dirty") == [(0,)]
    assert run_sql(
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f'"
        " AND conrelid = 'collaboration_activity'::regclass"
    ) == [(2,)]
    assert run_sql(
        "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL"
        " FROM pg_stat_user_tables WHERE relname = 'collaboration_activity'"
    ) == [(True,)]


@pytest.mark.django_db(transaction=True)
def test_it_loads_the_same_data_twice_for_a_seed():
    call_command(
        "seeddemo", scale="small", seed=9, stdout=StringIO(), stderr=StringIO()
    )
    first = run_sql("SELECT md5(string_agg(id::text, ',' ORDER BY id)) FROM studies")
    call_command(
        "seeddemo",
        scale="small",
        seed=9,
        reset=True,
        stdout=StringIO(),
        stderr=StringIO(),
    )
    second = run_sql("SELECT md5(string_agg(id::text, ',' ORDER BY id)) FROM studies")
    assert first == second


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_mix_with_existing_data(acme):
    with pytest.raises(CommandError, match="--reset"):
        call_command("seeddemo", scale="small", stdout=StringIO(), stderr=StringIO())
    assert Study.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_if_empty_keeps_existing_data(acme):
    out = StringIO()
    call_command("seeddemo", scale="small", if_empty=True, stdout=out)
    assert "kept" in out.getvalue()
    assert Study.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_if_empty_loads_an_empty_database():
    out = StringIO()
    call_command(
        "seeddemo", scale="small", if_empty=True, stdout=out, stderr=StringIO()
    )
    assert "loaded" in out.getvalue()
    assert Study.objects.exists()


def test_it_refuses_an_unknown_scale():
    with pytest.raises(CommandError):
        call_command("seeddemo", "--scale", "huge")


@pytest.mark.django_db(transaction=True)
def test_it_gives_up_cleanly_when_the_tables_are_busy(
    acme, second_connection, monkeypatch
):
    from perfconsole.collaboration import demo

    monkeypatch.setattr(demo, "LOCK_TIMEOUT", "200ms")
    reader = second_connection(autocommit=False)
    reader.execute("SELECT count(*) FROM studies")
    with pytest.raises(CommandError, match="nothing changed.*lock timeout"):
        call_command(
            "seeddemo", scale="small", reset=True, stdout=StringIO(), stderr=StringIO()
        )
    reader.rollback()
    assert Study.objects.count() == 2
