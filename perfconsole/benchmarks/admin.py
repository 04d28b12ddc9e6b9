"""Stored benchmark runs in the admin: list, detail with plans, comparison."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse

from perfconsole.core.admin import LargestFirstMixin, ReadOnlyAdminMixin
from perfconsole.core.pages import (
    PAGE_TEMPLATE,
    admin_page_context,
    render_admin_page,
)

from . import scaling_report
from .models import BenchmarkRun, ScalingRun
from .presentation import compare_runs, shown_settings
from .tables import CompareTable, ResultTable, ScalesTable, ScalingTable, SlopesTable


@admin.register(BenchmarkRun)
class BenchmarkRunAdmin(LargestFirstMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "started_at",
        "scale",
        "database",
        "server_version",
        "iterations",
        "compare",
        "targets",
    )
    list_filter = ("scale", "compare", "server_version")
    actions = ["compare_two_runs"]
    list_per_page = 50

    def get_queryset(self, request):
        # The PASS count per run in the same query (no N+1 in the list).
        return (
            super()
            .get_queryset(request)
            .annotate(
                query_count=Count("results"),
                passed_count=Count("results", filter=Q(results__passed=True)),
            )
        )

    @admin.display(description="seed targets (TARGETS.md)")
    def targets(self, run):
        return f"{run.passed_count}/{run.query_count} PASS"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<int:first>/compare/<int:second>/",
                wrap(self.compare_view),
                name=f"{name}_compare",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show one run: its settings, each query's figures and plans."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if not object_id.isdigit():
            raise Http404("A run's id is a number.")
        run = get_object_or_404(BenchmarkRun, pk=object_id)
        results = list(run.results.all())
        for result in results:
            result.plan_text = json.dumps(result.plan, indent=2)
            without = (result.without or {}).get("plan")
            result.without_plan_text = json.dumps(without, indent=2) if without else ""
        context = admin_page_context(
            self,
            request,
            f"Benchmark run {run}",
            run=run,
            settings=shown_settings(run.settings),
            results=results,
            table=ResultTable(results, compare=run.compare),
        )
        return render_admin_page(request, "admin/benchmarks/run_detail.html", context)

    def compare_view(self, request, first, second):
        """Show two runs side by side, query by query."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        before = get_object_or_404(BenchmarkRun, pk=first)
        if first == second:
            return self.same_run_page(request, before)
        after = get_object_or_404(BenchmarkRun, pk=second)
        context = admin_page_context(
            self,
            request,
            f"Benchmark runs {before.pk} and {after.pk} compared",
            before=before,
            after=after,
            table=CompareTable(compare_runs(before, after)),
        )
        return render_admin_page(request, "admin/benchmarks/compare.html", context)

    def same_run_page(self, request, run):
        """Answer 400: a run compared with itself has nothing to show."""
        context = admin_page_context(
            self,
            request,
            f"Benchmark run {run.pk} compared with itself",
            error=f"Both sides are the same run ({run}): choose two different "
            "runs to compare.",
        )
        return render_admin_page(request, PAGE_TEMPLATE, context, status=400)

    @admin.action(description="Compare the two selected runs")
    def compare_two_runs(self, request, queryset):
        runs = sorted(queryset.values_list("pk", "started_at"), key=lambda r: r[1])
        if len(runs) != 2:
            self.message_user(
                request, "Select exactly two runs to compare.", messages.ERROR
            )
            return None
        return redirect(
            reverse(
                "admin:benchmarks_benchmarkrun_compare",
                args=[runs[0][0], runs[1][0]],
            )
        )


@admin.register(ScalingRun)
class ScalingRunAdmin(LargestFirstMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """`benchmark --scaling` runs: p95 against data and organization size."""

    list_display = ("started_at", "scale_list", "iterations", "load_before")
    list_per_page = 50

    @admin.display(description="scales (rows)")
    def scale_list(self, run):
        return "; ".join(
            f"{scale['label']} ({scale['data_rows']:,})" for scale in run.scales
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show one scaling run: the table, the log-log charts, the verdicts."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if not object_id.isdigit():
            raise Http404("A scaling run's id is a number.")
        run = get_object_or_404(ScalingRun, pk=object_id)
        labels = run.scale_labels
        analysed = scaling_report.analyse(run.points.all(), labels)
        context = admin_page_context(
            self,
            request,
            f"Cost as work grows: scaling run {run.pk}",
            run=run,
            analysed=analysed,
            scales_table=ScalesTable(run.scales),
            scaling_table=ScalingTable.for_run(
                scaling_report.table_rows(analysed, labels), labels
            ),
            slopes_table=SlopesTable(analysed),
            charts=scaling_report.chart_data(analysed, run.scales),
            flat_ratio=scaling_report.FLAT_RATIO,
            allowance=round(scaling_report.SLOPE_ALLOWANCE, 2),
        )
        return render_admin_page(request, "admin/benchmarks/scaling.html", context)
