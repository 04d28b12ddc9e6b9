"""Fixtures for the collaboration tests: a small hand-made organization."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from perfconsole.collaboration.models import (
    CollaborationActivity,
    Organization,
    OrganizationMember,
    ProductUser,
    Study,
    StudyCollaborator,
)
from perfconsole.collaboration.performance import (
    FOREIGN_KEY_INDEXES,
    FUNCTIONS,
    INDEXES,
    VIEW,
    verify,
)
from perfconsole.collaboration.sqlfiles import load_sql


@pytest.fixture
def remigrate(transactional_db):
    """Let a test migrate the app backward; migrate it forward afterwards."""
    yield
    # Every app: migrating collaboration back also unapplies what depends on
    # it (maintenance's view of the rollup).
    call_command("migrate", verbosity=0)
    assert all(finding.ok for finding in verify())


def repair():
    """Rebuild only the performance objects a test broke (faster than remigrate)."""
    findings = {finding.name: finding for finding in verify()}
    with connection.cursor() as cursor:
        for spec in INDEXES + FOREIGN_KEY_INDEXES:
            if not findings[spec.name].ok:
                cursor.execute(spec.drop_sql())
                cursor.execute(spec.create_sql())
        for spec in FUNCTIONS:
            if not findings[spec.signature].ok:
                cursor.execute(f"DROP FUNCTION IF EXISTS {spec.signature}")
                cursor.execute(load_sql(spec.sql_file))
        if not findings[VIEW.name].ok:
            cursor.execute(f"DROP MATERIALIZED VIEW IF EXISTS {VIEW.name}")
            for statement in connection.ops.prepare_sql_script(load_sql(VIEW.sql_file)):
                cursor.execute(statement)
    assert all(finding.ok for finding in verify())


@pytest.fixture
def restore_performance_objects(transactional_db):
    """Let a test break performance objects; rebuild them afterwards."""
    yield
    repair()


def backend_waits_for_a_lock(conn, pid):
    """Return True once that backend waits for a lock, False after 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        [(waiting,)] = conn.execute(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
            [pid],
        ).fetchall()
        if waiting:
            return True
        time.sleep(0.05)
    return False


@contextmanager
def waiting_behind(holder, second_connection, statement, params=None):
    """Run statement in a new session until it waits for holder's locks.

    Yield while it waits; then commit holder, let the statement finish, and
    assert that it raised nothing.
    """
    session = second_connection()
    [(pid,)] = session.execute("SELECT pg_backend_pid()").fetchall()
    errors = []

    def run():
        try:
            session.execute(statement, params)
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert backend_waits_for_a_lock(second_connection(), pid)
        yield
    finally:
        holder.commit()
        thread.join(30)
    assert not errors


def run_sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        if cursor.description:
            return cursor.fetchall()
    return None


def fetch_dicts(statement, params=None):
    """Return a query's rows as dicts keyed by column name."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def analytics(org_id, days):
    """Return get_organization_analytics' rows as dicts."""
    return fetch_dicts(
        "SELECT * FROM get_organization_analytics(%s, %s)", [org_id, days]
    )


@pytest.fixture
def acme():
    """Build Acme: three members, a non-member collaborator, two studies.

    Times are relative to now, so the windows of the analytics are exact:
      s1 (created 2 days ago): review requested 10 h ago and completed 6 h
         ago (4 h), requested again 3 h ago (open), a comment 1 day ago,
         a file from Dora (not a member) 2 h ago.
      s2 (created 40 days ago): review requested 50 days ago and completed
         48 days ago (48 h), a comment by Carol 20 days ago.
    """
    now = timezone.now()
    ago = lambda **kw: now - timedelta(**kw)  # noqa: E731
    alice = ProductUser.objects.create(email="alice@acme.test", full_name="Alice")
    bob = ProductUser.objects.create(email="bob@acme.test", full_name="Bob")
    carol = ProductUser.objects.create(email="carol@acme.test", full_name="Carol")
    dora = ProductUser.objects.create(email="dora@other.test", full_name="Dora")
    acme = Organization.objects.create(name="Acme", slug="acme")
    other = Organization.objects.create(name="Other", slug="other")
    OrganizationMember.objects.create(organization=acme, user=alice, role="owner")
    OrganizationMember.objects.create(
        organization=acme, user=bob, role="member", invited_by=alice
    )
    OrganizationMember.objects.create(
        organization=acme, user=carol, role="viewer", invited_by=alice
    )
    OrganizationMember.objects.create(organization=other, user=dora, role="owner")
    s1 = Study.objects.create(
        organization=acme,
        title="Sleep",
        status="active",
        created_at=ago(days=2),
        created_by=alice,
    )
    s2 = Study.objects.create(
        organization=acme,
        title="Soil",
        status="completed",
        created_at=ago(days=40),
        created_by=alice,
    )
    StudyCollaborator.objects.create(
        study=s1, user=alice, role="owner", permissions={"manage": True}
    )
    StudyCollaborator.objects.create(study=s1, user=bob, role="editor", added_by=alice)
    StudyCollaborator.objects.create(study=s1, user=dora, role="viewer", added_by=alice)
    StudyCollaborator.objects.create(study=s2, user=alice, role="owner")
    StudyCollaborator.objects.create(study=s2, user=carol, role="viewer")
    rows = [
        (s1, bob, ago(hours=10), "review_requested"),
        (s1, alice, ago(hours=6), "review_completed"),
        (s1, bob, ago(hours=3), "review_requested"),
        (s1, alice, ago(days=1), "comment_added"),
        (s1, dora, ago(hours=2), "file_uploaded"),
        (s2, alice, ago(days=50), "review_requested"),
        (s2, alice, ago(days=48), "review_completed"),
        (s2, carol, ago(days=20), "comment_added"),
    ]
    CollaborationActivity.objects.bulk_create(
        CollaborationActivity(study=s, user=u, created_at=t, activity_type=k)
        for s, u, t, k in rows
    )
    return SimpleNamespace(
        alice=alice,
        bob=bob,
        carol=carol,
        dora=dora,
        org=acme,
        other=other,
        s1=s1,
        s2=s2,
        now=now,
    )
