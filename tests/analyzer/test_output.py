"""analyzedb's text, JSON and HTML output, and the admin page."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from tests.conftest import forget_statements_of_this_database

from .conftest import SCHEMA, run_lookups

pytestmark = pytest.mark.django_db(transaction=True)

MARKUP = "<script>alert(1)</script>"
LOW_BARS = ["--slow-query-ms=0", "--slow-query-calls=1", "--min-table-rows=1000"]


@pytest.fixture
def markup_query(problem_fixture):
    """Record a statement whose text (a column alias) holds markup."""
    # On the driver's cursor, untagged: a statement of the monitored product.
    with connection.cursor() as cursor:
        cursor.cursor.execute(f'SELECT count(*) AS "{MARKUP}" FROM {SCHEMA}.orders')


def test_it_writes_valid_complete_json(problem_fixture, tmp_path):
    output = tmp_path / "report.json"
    call_command("analyzedb", "--format=json", f"--output={output}", *LOW_BARS)
    document = json.loads(output.read_text())
    findings = document["findings"]
    assert findings
    for finding in findings:
        assert {"check", "severity", "subject", "evidence", "recommendation"} <= set(
            finding
        )
        assert finding["severity"] in ("critical", "warning", "info")
        assert isinstance(finding["evidence"], dict) and finding["evidence"]
        assert finding["subject"] and finding["recommendation"]
    assert sum(document["summary"].values()) == len(findings)
    subjects = {(f["check"], f["subject"]) for f in findings}
    assert ("unused_indexes", f"{SCHEMA}.orders_note_idx") in subjects
    assert ("duplicate_indexes", f"{SCHEMA}.orders_status_idx") in subjects
    assert ("index_suggestion", f"{SCHEMA}.orders") in subjects
    assert {t["status"] for t in document["targets"]} <= {
        "met",
        "missed",
        "not measured",
    }


def test_it_refuses_an_unwritable_output_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot write"):
        call_command("analyzedb", f"--output={tmp_path}/missing/report.json")


def test_it_prints_a_text_report(problem_fixture, capsys):
    call_command("analyzedb", *LOW_BARS)
    text = capsys.readouterr().out
    assert "Index efficiency targets" in text
    assert f"DROP INDEX CONCURRENTLY {SCHEMA}.orders_note_idx;" in text
    assert "[WARNING]" in text


def test_it_escapes_query_text_in_html(markup_query, tmp_path):
    output = tmp_path / "report.html"
    call_command("analyzedb", "--format=html", f"--output={output}", *LOW_BARS)
    html = output.read_text()
    assert MARKUP not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_admin_page_escapes_query_text(markup_query, admin_client):
    response = admin_client.get(reverse("admin:analyzer_analyzerreport_changelist"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Index efficiency targets" in page
    assert MARKUP not in page


def test_the_admin_page_needs_the_view_report_permission(client, staff_user):
    url = reverse("admin:analyzer_analyzerreport_changelist")
    client.force_login(staff_user)
    assert client.get(url).status_code == 403
    assert "Analyzer report" not in client.get(reverse("admin:index")).content.decode()
    staff_user.user_permissions.add(Permission.objects.get(codename="view_report"))
    assert client.get(url).status_code == 200
    assert "Analyzer report" in client.get(reverse("admin:index")).content.decode()


def test_the_admin_page_serves_json_and_rejects_unknown_formats(admin_client):
    url = reverse("admin:analyzer_analyzerreport_changelist")
    response = admin_client.get(url, {"format": "json"})
    assert response.status_code == 200
    assert "findings" in json.loads(response.content)
    assert admin_client.get(url, {"format": "pdf"}).status_code == 400


def test_the_admin_page_never_builds_trial_indexes(
    problem_fixture, admin_client, settings
):
    settings.MONITORING_SLOW_QUERY_MS = 0
    settings.MONITORING_SLOW_QUERY_CALLS = 1
    settings.ANALYZER_TRIAL_INDEXES = True
    this_database = "(SELECT oid FROM pg_database WHERE datname = current_database())"
    with connection.cursor() as cursor:
        forget_statements_of_this_database(cursor)
    run_lookups(30)
    response = admin_client.get(reverse("admin:analyzer_analyzerreport_changelist"))
    # The suggestion is shown, unchecked, and no index was built to check it.
    page = response.content.decode()
    assert "orders_customer_id_idx" in page
    assert "not checked" in page
    # Slow queries link to their statement's page.
    assert 'href="/admin/monitoring/querystat/' in page
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_statements"
            f" WHERE dbid = {this_database} AND query ILIKE '%%CREATE INDEX%%'"
        )
        assert cursor.fetchone()[0] == 0


def test_a_locked_table_gives_notes_not_an_error(
    problem_fixture, second_connection, admin_client, settings
):
    settings.MONITORING_SLOW_QUERY_MS = 0
    settings.MONITORING_SLOW_QUERY_CALLS = 1
    locker = second_connection(autocommit=False)
    locker.execute(f"LOCK TABLE {SCHEMA}.orders IN ACCESS EXCLUSIVE MODE")
    response = admin_client.get(reverse("admin:analyzer_analyzerreport_changelist"))
    locker.rollback()
    assert response.status_code == 200
    page = response.content.decode()
    assert "lock timeout" in page
    # What does not touch the locked table is still reported.
    assert "Index efficiency targets" in page
    assert "Cache hit rate" in page
