"""The analyzer report as an admin page under the Analyzer app."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse

from perfconsole.core.db import StatisticsUnavailable

from .models import AnalyzerReport
from .renderers import render_html, render_json
from .report import Options, build_report

VIEW_PERMISSION = "analyzer.view_report"


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
class AnalyzerReportAdmin(admin.ModelAdmin):
    """Show the report in place of a change list; nothing to add or edit."""

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.has_perm(VIEW_PERMISSION)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        # Only the report: no add, change or delete pages for this model.
        return [
            path(
                "",
                self.admin_site.admin_view(self.report_view),
                name="analyzer_analyzerreport_changelist",
            )
        ]

    def report_view(self, request):
        """Render the report; ?format=json or ?format=html downloads it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        output_format = request.GET.get("format", "")
        if output_format not in ("", "json", "html"):
            return HttpResponseBadRequest("format must be json or html")
        # A web request never builds trial indexes: they lock the table.
        options = Options.from_settings(trial_indexes=False)
        report, error = None, None
        try:
            report = build_report(options)
        except StatisticsUnavailable as exc:
            error = str(exc)
        if report is not None and output_format == "json":
            return HttpResponse(render_json(report), content_type="application/json")
        if report is not None and output_format == "html":
            return HttpResponse(render_html(report), content_type="text/html")
        if report is not None:
            link_statements(report, request.user)
        context = {
            **self.admin_site.each_context(request),
            "title": "Analyzer report",
            "opts": self.model._meta,
            "report": report,
            "error": error,
        }
        return TemplateResponse(request, "admin/analyzer/report.html", context)
