"""Filter forms for the statistics tables; bad input becomes form errors."""

from django import forms
from django.conf import settings
from django.db.models import Q

from perfconsole.core.db import QUERY_TAG
from perfconsole.core.ownership import console_tables
from perfconsole.replication.fleet import without_standby_scans

MAX_PAGE = 100_000


class StatsFilterForm(forms.Form):
    """Paging and search shared by every statistics table."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)
    _export = forms.ChoiceField(required=False, choices=[("", "page"), ("csv", "CSV")])
    per_page = forms.IntegerField(required=False, min_value=1, max_value=500)
    columns = forms.ChoiceField(
        required=False, choices=[("", "main"), ("all", "all")], label="Columns"
    )

    search_fields = ()
    paging_fields = ("page", "per_page", "_export", "columns")

    def filter_fields(self):
        """Return the bound fields shown in the filter bar."""
        return [field for field in self if field.name not in self.paging_fields]

    def filter(self, queryset):
        """Return the queryset narrowed by the cleaned values."""
        term = self.cleaned_data.get("q")
        if term:
            match = Q()
            for field in self.search_fields:
                match |= Q(**{f"{field}__icontains": term})
            queryset = queryset.filter(match)
        return queryset

    def matches(self, row):
        """Return True if a dict row passes the filters, as filter() would.

        For rows read from the statistics history (window_pages), which are
        no queryset; the row has the keys of search_fields.
        """
        term = (self.cleaned_data.get("q") or "").casefold()
        return not term or any(
            term in str(row.get(field) or "").casefold() for field in self.search_fields
        )


class QueryFilterForm(StatsFilterForm):
    """Filters of the query table: slow only, min calls, min mean, user."""

    slow = forms.BooleanField(
        required=False,
        label="Slow only",
        help_text="Mean time and calls at or above the slow-query settings.",
    )
    min_calls = forms.IntegerField(required=False, min_value=0, label="Min calls")
    min_mean_ms = forms.FloatField(
        required=False, min_value=0, max_value=86_400_000, label="Min mean (ms)"
    )
    user = forms.CharField(required=False, max_length=63, label="User")
    console = forms.BooleanField(
        required=False,
        label="Show the console's own statements",
        help_text="Statements the console sends (its pages, task cluster, "
        "statistics reads) carry its tag, " + QUERY_TAG + ".",
    )

    search_fields = ("query",)

    def filter(self, queryset):
        queryset = super().filter(queryset)
        data = self.cleaned_data
        if not data.get("console"):
            queryset = queryset.filter(is_console=False)
        if data.get("slow"):
            queryset = queryset.filter(
                mean_time_ms__gte=settings.MONITORING_SLOW_QUERY_MS,
                calls__gte=settings.MONITORING_SLOW_QUERY_CALLS,
            )
        if data.get("min_calls") is not None:
            queryset = queryset.filter(calls__gte=data["min_calls"])
        if data.get("min_mean_ms") is not None:
            queryset = queryset.filter(mean_time_ms__gte=data["min_mean_ms"])
        if data.get("user"):
            queryset = queryset.filter(user_name=data["user"])
        return queryset

    def matches(self, row):
        """Return True if a statement over a window passes the filters.

        The row is a window_pages.statement_rows one: query, is_console,
        calls, mean_time (ms, None without calls) and user_name.
        """
        data = self.cleaned_data
        mean = row["mean_time"] or 0.0
        slow = (
            mean >= settings.MONITORING_SLOW_QUERY_MS
            and row["calls"] >= settings.MONITORING_SLOW_QUERY_CALLS
        )
        checks = [
            data.get("console") or not row["is_console"],
            not data.get("slow") or slow,
            data.get("min_calls") is None or row["calls"] >= data["min_calls"],
            data.get("min_mean_ms") is None or mean >= data["min_mean_ms"],
            not data.get("user") or row["user_name"] == data["user"],
        ]
        return super().matches(row) and all(checks)


class RelationFilterForm(StatsFilterForm):
    """Filters of the index and table pages: schema, table, size."""

    schema = forms.CharField(required=False, max_length=63)
    table = forms.CharField(required=False, max_length=63)
    min_size_mb = forms.FloatField(
        required=False, min_value=0, max_value=1e9, label="Min size (MB)"
    )
    console = forms.BooleanField(
        required=False,
        label="Show the console's own tables",
        help_text="The console's, Django's and django-q2's tables.",
    )

    size_field = ""

    def filter(self, queryset):
        queryset = super().filter(queryset)
        data = self.cleaned_data
        if not data.get("console"):
            queryset = queryset.exclude(table_name__in=console_tables())
        if data.get("schema"):
            queryset = queryset.filter(schema_name=data["schema"])
        if data.get("table"):
            queryset = queryset.filter(table_name__icontains=data["table"])
        if data.get("min_size_mb") is not None:
            min_bytes = int(data["min_size_mb"] * 1024 * 1024)
            queryset = queryset.filter(**{f"{self.size_field}__gte": min_bytes})
        return queryset

    def matches(self, row):
        """Return True if a relation over a window passes the filters.

        The row is a catalog row (the view's columns) whose counters are
        the window's (history.relations).
        """
        data = self.cleaned_data
        size = row.get(self.size_field)
        min_mb = data.get("min_size_mb")
        checks = [
            data.get("console") or row["table_name"] not in console_tables(),
            not data.get("schema") or row["schema_name"] == data["schema"],
            not data.get("table")
            or data["table"].casefold() in row["table_name"].casefold(),
            min_mb is None or (size is not None and size >= int(min_mb * 1024 * 1024)),
        ]
        return super().matches(row) and all(checks)


class IndexFilterForm(RelationFilterForm):
    unused = forms.BooleanField(
        required=False,
        label="Not scanned",
        help_text="Never (lifetime), or not in the window.",
    )

    search_fields = ("index_name", "table_name", "definition")
    size_field = "index_size_bytes"

    # Which servers' scans "Not scanned" counted (the target's standbys too).
    standby_note = ""

    def filter(self, queryset):
        queryset = super().filter(queryset)
        if self.cleaned_data.get("unused"):
            queryset = queryset.filter(idx_scan=0)
            queryset, self.standby_note = without_standby_scans(queryset)
        return queryset

    def matches(self, row):
        return super().matches(row) and (
            not self.cleaned_data.get("unused") or row["idx_scan"] == 0
        )


class TableFilterForm(RelationFilterForm):
    min_dead_tuples = forms.IntegerField(
        required=False, min_value=0, label="Min dead tuples"
    )

    search_fields = ("table_name",)
    size_field = "total_size_bytes"

    def filter(self, queryset):
        queryset = super().filter(queryset)
        if self.cleaned_data.get("min_dead_tuples") is not None:
            queryset = queryset.filter(
                n_dead_tup__gte=self.cleaned_data["min_dead_tuples"]
            )
        return queryset

    def matches(self, row):
        least = self.cleaned_data.get("min_dead_tuples")
        return super().matches(row) and (
            least is None or (row["n_dead_tup"] or 0) >= least
        )
