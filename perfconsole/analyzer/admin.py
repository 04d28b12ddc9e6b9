"""The analyzer report as an admin page under the Analyzer app."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.http import HttpResponse
from django.urls import reverse

from perfconsole.core.admin import PageAdmin
from perfconsole.core.db import StatisticsUnavailable
from perfconsole.core.middleware import bad_request
from perfconsole.history.scoping import request_scope

from .models import AnalyzerReport
from .renderers import render_html, render_json
from .report import Options, build_report
from .tables import report_tables

VIEW_PERMISSION = "analyzer.view_report"


@csp_update({"style-src": [UNSAFE_INLINE]})
def standalone_html(report):
    """Answer the report as one HTML file.

    Its styles are inline so that the file also reads well once saved; it has
    no script, so only inline styles are allowed on this response.
    """
    return HttpResponse(render_html(report), content_type="text/html")


def link_statements(report, user):
    """Link slow-query findings to the statement's page, for those who may see it."""
    if not user.has_perm("monitoring.view_querystat"):
        return
    for finding in report.findings:
        if finding.check == "slow_query":
            finding.detail_url = reverse(
                "admin:monitoring_querystat_change",
                args=[finding.evidence["statement_id"]],
            )


@admin.register(AnalyzerReport)
class AnalyzerReportAdmin(PageAdmin):
    """Show the report in place of a change list; nothing to add or edit."""

    view_permission = VIEW_PERMISSION

    def page_view(self, request):
        """Render the report; ?format=json or ?format=html downloads it."""
        output_format = request.GET.get("format", "")
        if output_format not in ("", "json", "html"):
            return bad_request("format must be json or html")
        # A web request never builds trial indexes: they lock the table.
        options = Options.from_settings(trial_indexes=False)
        report, error = None, None
        scope = request_scope(request)
        try:
            report = build_report(options, scope)
        except StatisticsUnavailable as exc:
            error = scope.unavailable(exc)
        if report is not None and output_format == "json":
            return HttpResponse(render_json(report), content_type="application/json")
        if report is not None and output_format == "html":
            return standalone_html(report)
        if report is not None:
            link_statements(report, request.user)
        return self.render_page(
            request,
            "admin/analyzer/report.html",
            "Analyzer report",
            report=report,
            tables=report_tables(report) if report else None,
            error=error,
        )
