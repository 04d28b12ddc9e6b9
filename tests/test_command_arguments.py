"""Bad arguments of the other commands: a clear CommandError, no traceback."""

import math

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "options, message",
    [
        ({"slow_query_ms": -1}, "--slow-query-ms must be at least 0"),
        ({"slow_query_ms": math.nan}, "--slow-query-ms"),
        ({"slow_query_calls": -1}, "--slow-query-calls must be at least 0"),
        ({"min_table_rows": -1}, "--min-table-rows must be at least 0"),
        ({"min_table_rows": 2**63}, "--min-table-rows .* at most 9,223,"),
    ],
)
def test_analyzedb_refuses_negative_thresholds(options, message):
    with pytest.raises(CommandError, match=message):
        call_command("analyzedb", **options)


def test_analyzedb_checks_the_output_folder_before_the_report(
    tmp_path, django_assert_num_queries
):
    missing = tmp_path / "missing" / "report.json"
    # Refused before a single statistics query.
    with django_assert_num_queries(0), pytest.raises(CommandError) as refused:
        call_command("analyzedb", output=str(missing))
    assert "Cannot write" in str(refused.value)
    assert "does not exist" in str(refused.value)


def test_verifyperf_names_an_unknown_database_alias():
    with pytest.raises(CommandError, match="--database nope: no such database"):
        call_command("verifyperf", database="nope")


@pytest.mark.parametrize("port", ["abc", "0", "65536", "²", "-1"])
def test_console_refuses_a_bad_port_before_migrating(port, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(CommandError, match="--port"):
        call_command("console", port=port)
