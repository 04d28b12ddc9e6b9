"""Statistics history pages in the admin."""

from django.contrib import admin

from perfconsole.core.admin import PageAdmin

from .compare import compare_windows
from .compare_form import CompareForm
from .compare_tables import GoneTable, NewTable, SeqScanTable, SlowerTable
from .models import WindowCompare
from .scoping import request_scope

COMPARE_TEMPLATE = "admin/history/compare.html"


@admin.register(WindowCompare)
class WindowCompareAdmin(PageAdmin):
    """Two windows side by side: what got slower, new, gone, scanned more."""

    view_permission = "history.view_window_compare"

    def page_view(self, request):
        """Compare the windows in the query string (by default, two days)."""
        data = request.GET if request.GET else CompareForm.default_data()
        form = CompareForm(data)
        if not form.is_valid():
            return self.render_page(
                request,
                COMPARE_TEMPLATE,
                "Compare two windows",
                status=400,
                form=form,
                error="Please correct the windows below.",
            )
        before, after = form.windows()
        result = compare_windows(
            request_scope(request).database,
            before,
            after,
            form.cleaned_data["threshold_pct"],
            form.cleaned_data["min_calls"],
        )
        linked = request.user.has_perm("monitoring.view_querystat")
        return self.render_page(
            request,
            COMPARE_TEMPLATE,
            "Compare two windows",
            form=form,
            compared=True,
            before=before,
            after=after,
            threshold_pct=form.cleaned_data["threshold_pct"],
            min_calls=form.cleaned_data["min_calls"],
            slower=SlowerTable(result.slower, linked=linked),
            new=NewTable(result.new, linked=linked),
            gone=GoneTable(result.gone, linked=linked),
            seq_scans=SeqScanTable(result.seq_scans),
        )
