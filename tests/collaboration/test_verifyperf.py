"""verifyperf: clean after migrate, and the right line for each problem."""

import json

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import CommandError

from .conftest import run_sql

pytestmark = pytest.mark.django_db(transaction=True)


def verifyperf(*args):
    """Run verifyperf; return (output, error or None)."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("verifyperf", *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def collaboration_issues():
    """Run the database checks; keep this app's issues."""
    issues = checks.run_checks(tags=[checks.Tags.database], databases=["default"])
    return [issue for issue in issues if issue.id.startswith("collaboration.")]


def line_of(output, name):
    return next(line for line in output.splitlines() if name in line)


def test_it_is_clean_after_migrate():
    output, error = verifyperf()
    assert error is None
    assert output.count("\nok ") + output.startswith("ok ") == 18
    assert "All 18 performance objects are in place." in output


def test_it_reports_a_disabled_rollup_trigger(transactional_db):
    run_sql(
        "ALTER TABLE studies DISABLE TRIGGER studies_rollup_delete;"
        "SELECT refresh_organization_activity_rollup()"
    )
    try:
        output, error = verifyperf()
    finally:
        run_sql("ALTER TABLE studies ENABLE TRIGGER studies_rollup_delete")
    assert error is not None and error.returncode == 1
    line = line_of(output, "organization_activity_rollup")
    assert line.startswith("invalid")
    assert "trigger disabled: studies_rollup_delete" in line

    output, error = verifyperf()
    assert error is None
    assert "covers activity before" in line_of(output, "organization_activity_rollup")


def test_it_reports_a_missing_index(restore_performance_objects):
    run_sql("DROP INDEX idx_organization_members_org_role")
    output, error = verifyperf()
    assert error is not None and error.returncode == 1
    assert line_of(output, "idx_organization_members_org_role").startswith("missing")
    assert line_of(output, "idx_studies_organization_lookup").startswith("ok")


def test_it_reports_an_invalid_index(restore_performance_objects):
    run_sql("DROP INDEX idx_study_collaborators_performance")
    run_sql(
        "INSERT INTO organizations (id, name, slug, created_at)"
        " VALUES (gen_random_uuid(), 'a', 'a', now()),"
        "        (gen_random_uuid(), 'a', 'b', now())"
    )
    # A real failed concurrent build (duplicate names) leaves it INVALID.
    with pytest.raises(Exception, match="could not create unique index"):
        run_sql(
            "CREATE UNIQUE INDEX CONCURRENTLY idx_study_collaborators_performance"
            " ON organizations (name)"
        )
    output, error = verifyperf()
    assert error is not None
    assert line_of(output, "idx_study_collaborators_performance").startswith("invalid")


def test_it_reports_an_altered_index(restore_performance_objects):
    run_sql("DROP INDEX idx_collaboration_activity_timeline")
    run_sql(
        "CREATE INDEX idx_collaboration_activity_timeline"
        " ON collaboration_activity (study_id, created_at)"
    )
    output, error = verifyperf()
    assert error is not None
    line = line_of(output, "idx_collaboration_activity_timeline")
    assert line.startswith("differs")
    assert "(study_id, created_at)" in line


def test_it_reports_a_missing_function(restore_performance_objects):
    run_sql("DROP FUNCTION get_organization_analytics(uuid, integer)")
    output, error = verifyperf()
    assert error is not None
    assert line_of(output, "get_organization_analytics").startswith("missing")


def test_it_reports_a_function_that_is_not_stable(restore_performance_objects):
    run_sql("ALTER FUNCTION get_user_collaborative_studies(uuid) VOLATILE")
    output, error = verifyperf()
    assert line_of(output, "get_user_collaborative_studies").startswith("differs")


def test_it_reports_an_unpopulated_view(restore_performance_objects):
    run_sql("REFRESH MATERIALIZED VIEW team_productivity_analytics WITH NO DATA")
    output, error = verifyperf()
    assert error is not None
    assert line_of(output, "team_productivity_analytics").startswith("invalid")


def test_it_reports_a_view_without_its_unique_index(restore_performance_objects):
    run_sql("DROP INDEX team_productivity_analytics_organization_id_key")
    output, error = verifyperf()
    line = line_of(output, "team_productivity_analytics")
    assert line.startswith("missing")
    assert "team_productivity_analytics_organization_id_key" in line


def test_it_speaks_json(restore_performance_objects):
    run_sql("DROP INDEX idx_organization_members_user_lookup")
    output, error = verifyperf("--json")
    assert error is not None and error.returncode == 1
    report = json.loads(output)
    assert report["ok"] is False
    statuses = {item["name"]: item["status"] for item in report["objects"]}
    assert statuses["idx_organization_members_user_lookup"] == "missing"
    assert statuses["get_user_collaborative_studies(uuid)"] == "ok"
    assert len(statuses) == 18


def test_it_runs_as_a_database_system_check(restore_performance_objects):
    assert collaboration_issues() == []
    run_sql("DROP INDEX idx_organization_members_user_lookup")
    issues = collaboration_issues()
    assert [issue.id for issue in issues] == ["collaboration.W003"]
    assert "idx_organization_members_user_lookup" in issues[0].msg


def test_a_missing_object_does_not_stop_migrate(restore_performance_objects):
    run_sql("DROP INDEX idx_organization_members_user_lookup")

    call_command("migrate", "collaboration", verbosity=0)  # no SystemCheckError

    assert collaboration_issues()[0].id == "collaboration.W003"


def test_the_system_check_waits_for_pending_migrations(remigrate):
    call_command("migrate", "collaboration", "0004", verbosity=0)

    [issue] = collaboration_issues()

    assert issue.id == "collaboration.W001"
    assert "0005_activity_rollup" in issue.msg
