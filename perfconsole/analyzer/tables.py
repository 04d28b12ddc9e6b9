"""Tables of the analyzer report: targets, benchmark goals, findings."""

import django_tables2 as tables
from django.template.loader import render_to_string
from django.utils.html import format_html

from perfconsole.core.tables import ConsoleTable, RawNumberColumn, TextColumn

FINDING_TEMPLATE = "analyzer/_finding.html"


def met_class(record):
    """Return the status cell's class: met, missed, or none when unmeasured."""
    return {True: "pc-status-ok", False: "pc-status-critical"}.get(record.met)


class TargetTable(ConsoleTable):
    """The seed's index efficiency targets, met or missed."""

    class Meta(ConsoleTable.Meta):
        attrs = {"class": "pc-table pc-targets"}
        orderable = False
        default = ""

    name = TextColumn(verbose_name="Target", default="")
    target = TextColumn(verbose_name="Goal", default="")
    measured = TextColumn(verbose_name="Measured", default="")
    status = TextColumn(
        verbose_name="Status", default="", attrs={"td": {"class": met_class}}
    )
    detail = TextColumn(verbose_name="Detail", default="")


class BenchmarkTable(TargetTable):
    """Our goals, judged on the latest benchmark run."""

    class Meta(TargetTable.Meta):
        attrs = {"class": "pc-table pc-benchmark"}

    name = TextColumn(verbose_name="Query", default="")


class FindingTable(ConsoleTable):
    """The findings, most urgent first, each with its evidence and fix."""

    class Meta(ConsoleTable.Meta):
        attrs = {"class": "pc-table pc-findings"}
        orderable = False

    number = RawNumberColumn(verbose_name="#", empty_values=())
    severity = TextColumn(
        verbose_name="Severity",
        attrs={"td": {"class": lambda record: f"pc-status-{record.severity}"}},
    )
    check = TextColumn(verbose_name="Check")
    subject = TextColumn(verbose_name="Subject", default="")
    finding = tables.Column(verbose_name="Finding", accessor="title", default="")

    def render_number(self, bound_row):
        return bound_row.row_counter + 1

    def render_subject(self, value, record):
        url = getattr(record, "detail_url", None)
        if url:
            return format_html('<a href="{}"><code>{}</code></a>', url, value)
        return format_html("<code>{}</code>", value)

    def render_finding(self, record):
        return render_to_string(FINDING_TEMPLATE, {"finding": record})


def report_tables(report):
    """Return the report's tables by name, for report_body.html."""
    return {
        "targets": TargetTable(report.targets),
        "benchmark": BenchmarkTable(report.benchmark),
        "findings": FindingTable(report.findings),
    }
