"""Health checks and the analyzer leave the console's own tables out by default.

On the suite's fresh database Django's auth_* tables have indexes covered by
their unique constraints (e.g. auth_group_permissions' group_id index): real
duplicates, but the framework's, not the product's.
"""

import pytest
from django.test import override_settings

from perfconsole.analyzer.report import build_report
from perfconsole.core.ownership import console_tables, is_console_table
from perfconsole.health import checks

pytestmark = pytest.mark.django_db


def auth_subjects(rows):
    return {row["subject"] for row in rows if "auth_" in row["table_name"]}


def test_console_tables_come_from_the_app_registry():
    names = console_tables()
    assert {"auth_user", "django_migrations", "django_q_task"} <= names
    assert "perfconsole_task_cache" in names
    assert not any(name.startswith("collaboration_") for name in names)
    assert is_console_table("public.auth_group_permissions")
    assert not is_console_table("public.collaboration_activity")


def test_duplicate_indexes_leave_out_the_framework_tables_by_default():
    result = checks.check_duplicate_indexes()
    assert auth_subjects(result.rows) == set()
    assert "auth_" not in " ".join(result.fix_sql)


def test_duplicate_indexes_report_them_with_the_switch():
    result = checks.check_duplicate_indexes(include_console=True)
    assert auth_subjects(result.rows)
    assert result.status == "warning"


def test_the_setting_turns_the_switch_on():
    with override_settings(HEALTH_INCLUDE_CONSOLE_TABLES=True):
        assert auth_subjects(checks.check_duplicate_indexes().rows)


def findings_on_auth(report):
    return [f for f in report.findings if "auth_" in f.subject]


def test_the_analyzer_says_nothing_about_auth_tables_by_default(settings):
    settings.ANALYZER_TRIAL_INDEXES = False
    assert findings_on_auth(build_report()) == []
    settings.HEALTH_INCLUDE_CONSOLE_TABLES = True
    assert findings_on_auth(build_report())


def test_the_health_page_has_the_switch(admin_client):
    hidden = admin_client.get("/admin/health/healthcheck/")
    shown = admin_client.get("/admin/health/healthcheck/?console=1")
    assert hidden.status_code == shown.status_code == 200
    assert b"auth_group_permissions" not in hidden.content
    assert b"show the console's own" in hidden.content
    assert b"auth_group_permissions" in shown.content
    assert admin_client.get("/admin/health/healthcheck/?console=x").status_code == 400
