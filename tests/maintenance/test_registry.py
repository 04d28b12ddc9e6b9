"""Refreshables registered by apps: listed, refreshed and scheduled like views."""

import ast
import re
from importlib import import_module
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_q.models import Schedule

import perfconsole.maintenance
from perfconsole.collaboration.models import ROLLUP_NAME
from perfconsole.maintenance import registry
from perfconsole.maintenance.models import RegisteredRefreshable, ViewRefresh
from perfconsole.maintenance.services import (
    ViewNotManaged,
    list_materialized_views,
    managed_views,
    request_refresh,
)
from perfconsole.maintenance.tasks import refresh_view_task

from .conftest import execute, fetch_all

SUMMARY = "mt_summary"
MAINTENANCE = Path(perfconsole.maintenance.__file__).parent


def summary_refreshable(**changes):
    """Return a refreshable that counts mt_source's rows into mt_summary."""
    fields = {
        "name": SUMMARY,
        "kind": "summary table",
        "statements": (
            "DELETE FROM mt_summary",
            "INSERT INTO mt_summary SELECT count(*) FROM mt_source",
        ),
        "state_function": "mt_summary_state()",
        "description": "a test app's row count of mt_source",
        **changes,
    }
    return registry.Refreshable(**fields)


@pytest.fixture
def summary(source_table):
    """Register a test app's refreshable, with its table and state function."""
    execute("CREATE TABLE mt_summary (total bigint NOT NULL)")
    execute(
        "CREATE FUNCTION mt_summary_state(OUT populated boolean,"
        " OUT size_bytes bigint, OUT row_estimate bigint, OUT owner name)"
        " LANGUAGE sql STABLE AS $$ SELECT EXISTS (SELECT FROM mt_summary),"
        " pg_total_relation_size('mt_summary'), 42::bigint, current_user $$"
    )
    registry.register(summary_refreshable())
    registry.write_registered()
    yield SUMMARY
    registry.unregister(SUMMARY)
    registry.write_registered()
    execute("DROP FUNCTION mt_summary_state()")
    execute("DROP TABLE mt_summary")


def test_a_second_refreshable_of_one_name_is_refused():
    registry.register(summary_refreshable())
    try:
        with pytest.raises(registry.DuplicateRefreshable, match=SUMMARY):
            registry.register(summary_refreshable(kind="other"))
        with pytest.raises(registry.DuplicateRefreshable, match=ROLLUP_NAME):
            registry.register(summary_refreshable(name=ROLLUP_NAME))
    finally:
        registry.unregister(SUMMARY)
    assert registry.get(ROLLUP_NAME).kind == "rollup"


def test_a_refreshable_needs_statements_and_its_own_kind():
    with pytest.raises(ValueError, match="statements"):
        summary_refreshable(statements=())
    with pytest.raises(ValueError, match="kind"):
        summary_refreshable(kind=registry.MATERIALIZED_VIEW)


@pytest.mark.django_db(transaction=True)
def test_a_registered_refreshable_is_listed_refreshed_and_audited(
    summary, django_user_model
):
    operator = django_user_model.objects.create_superuser("operator", "", "pw")
    client = Client()
    client.force_login(operator)

    listing = client.get(reverse("admin:maintenance_materializedview_changelist"))
    row = re.search(rf"<tr[^>]*>.*?{SUMMARY}.*?</tr>", listing.text, re.S)[0]
    assert "summary table" in row and "42" in row
    page = client.get(
        reverse("admin:maintenance_materializedview_change", args=[SUMMARY])
    )
    assert "a test app&#x27;s row count of mt_source" in page.text
    assert "Refresh now" in page.text

    client.post(reverse("admin:maintenance_materializedview_refresh", args=[SUMMARY]))
    refresh = ViewRefresh.objects.get(view_name=SUMMARY)
    assert (refresh.status, refresh.triggered_by) == ("queued", operator)
    assert f"#{refresh.pk}" in LogEntry.objects.get(object_id=SUMMARY).change_message

    # What the worker runs for the task: the app's statements, under the lock.
    assert refresh_view_task(SUMMARY, "user", refresh_id=refresh.pk) == "succeeded"
    refresh.refresh_from_db()
    assert refresh.backend_pid and refresh.concurrently is None
    assert fetch_all("SELECT total FROM mt_summary") == [(3,)]
    listed = {view.name: view for view in list_materialized_views()}[SUMMARY]
    assert listed.populated and listed.last_status == "succeeded"
    assert SUMMARY in {view.name for view in managed_views()}  # alerted on
    assert (
        "done in"
        in client.get(
            reverse("admin:maintenance_materializedview_change", args=[SUMMARY])
        ).text
    )


@pytest.mark.django_db(transaction=True)
def test_refreshviews_refreshes_a_registered_refreshable(summary):
    out = StringIO()
    call_command("refreshviews", view=[SUMMARY], stdout=out)

    assert f"{SUMMARY}: succeeded" in out.getvalue()
    assert fetch_all("SELECT total FROM mt_summary") == [(3,)]
    assert ViewRefresh.objects.get(view_name=SUMMARY).trigger == "command"


@pytest.mark.django_db
def test_a_refreshable_no_app_registers_any_more_is_listed_read_only():
    # Its app went away since the last migrate wrote the table.
    RegisteredRefreshable.objects.create(name="mt_gone", kind="summary table")

    listed = {view.name: view for view in list_materialized_views()}["mt_gone"]

    assert not listed.managed and not listed.populated
    assert "no longer registered" in listed.unmanaged_reason
    with pytest.raises(ViewNotManaged):
        request_refresh("mt_gone", "user")


@pytest.mark.django_db
def test_each_migrate_writes_the_registered_refreshables():
    RegisteredRefreshable.objects.all().delete()

    call_command("migrate", "maintenance", verbosity=0)

    assert list(RegisteredRefreshable.objects.values_list("name", "kind")) == [
        (ROLLUP_NAME, "rollup")
    ]


def test_the_maintenance_app_imports_nothing_from_the_product_apps():
    for path in MAINTENANCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert not name.startswith("perfconsole.collaboration"), path


# Applied, so never edited: 0003 lists the rollup beside the views (SQL view
# v2, then v3) and depends on the collaboration migration that created it.
APPLIED = {
    "migrations/0003_materialized_view_v2.py",
    "sql/views/materialized_views_v2.sql",
    "sql/views/materialized_views_v3.sql",
}


def test_the_maintenance_app_names_no_product_table():
    for path in MAINTENANCE.rglob("*"):
        relative = path.relative_to(MAINTENANCE).as_posix()
        if path.suffix not in {".py", ".sql", ".html"} or relative in APPLIED:
            continue
        text = path.read_text().lower()
        for word in ("collaboration", "organization", "rollup"):
            assert word not in text, f"{relative} names {word!r}"


def test_the_latest_migration_no_longer_lists_the_rollup_in_sql():
    latest = import_module(
        "perfconsole.maintenance.migrations.0005_registered_refreshables"
    )
    sql = " ".join(
        operation.sql
        for operation in latest.Migration.operations
        if hasattr(operation, "sql")
    )
    assert "maintenance_registered_refreshables()" in sql
    assert "organization" not in sql


def test_each_app_declares_its_own_schedules():
    def names(label):
        return [s["name"] for s in apps.get_app_config(label).schedules()]

    assert names("alerts") == ["evaluate-alerts"]
    assert names("collaboration") == ["refresh-activity-rollup"]
    assert "evaluate-alerts" not in names("maintenance")
    assert "refresh-activity-rollup" not in names("maintenance")


@pytest.mark.django_db(transaction=True)
def test_setupschedules_writes_the_apps_schedules_and_the_rollup_one_runs():
    call_command("setupschedules", stdout=StringIO())

    alerts = Schedule.objects.get(name="evaluate-alerts")
    assert alerts.func == "perfconsole.alerts.tasks.evaluate_alerts"
    rollup = Schedule.objects.get(name="refresh-activity-rollup")
    # What the cluster's scheduler runs for it.
    module, func = rollup.func.rsplit(".", 1)
    outcome = getattr(import_module(module), func)(*ast.literal_eval(rollup.args))
    assert outcome == "succeeded"
    refresh = ViewRefresh.objects.get()
    assert (refresh.view_name, refresh.trigger) == (ROLLUP_NAME, "schedule")


@pytest.mark.django_db
def test_setupschedules_moves_the_rollup_schedule_of_an_older_release():
    old = Schedule.objects.create(
        name="refresh-activity-rollup",
        func="perfconsole.maintenance.tasks.refresh_activity_rollup",
        schedule_type=Schedule.MINUTES,
        minutes=30,  # edited in the admin
        repeats=-1,
    )
    out = StringIO()

    call_command("setupschedules", stdout=out)

    moved = Schedule.objects.get(name="refresh-activity-rollup")
    assert moved.pk == old.pk and moved.minutes == 30
    assert moved.func == "perfconsole.maintenance.tasks.refresh_view_task"
    assert ast.literal_eval(moved.args) == (ROLLUP_NAME,)
    assert "refresh-activity-rollup: updated func, args" in out.getvalue()


def listed_besides_the_views():
    return fetch_all(
        "SELECT * FROM maintenance_materialized_view WHERE kind <> %s",
        [registry.MATERIALIZED_VIEW],
    )


@pytest.mark.django_db
def test_the_rollup_is_listed_as_the_sql_view_v3_listed_it():
    execute("SELECT refresh_organization_activity_rollup()")
    call_command("migrate", "maintenance", "0004", verbosity=0)
    # v3 named the rollup (and its tables) in SQL.
    before = listed_besides_the_views()

    call_command("migrate", "maintenance", verbosity=0)

    assert [row[:4] for row in before] == [(ROLLUP_NAME, "public", ROLLUP_NAME, True)]
    assert listed_besides_the_views() == before
