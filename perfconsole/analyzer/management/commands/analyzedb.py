"""The analyzer report on the command line."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from perfconsole.analyzer.renderers import RENDERERS
from perfconsole.analyzer.report import DEFAULT_WINDOW_HOURS, Options, build_report
from perfconsole.core.arguments import BIGINT_MAX, check_output_file, check_range
from perfconsole.core.db import StatisticsUnavailable
from perfconsole.history.window_form import LONGEST_WINDOW

# A day, the most the query page's filter accepts too.
MAX_MEAN_MS = 86_400_000
# The longest window the history pages accept (the daily history's retention).
MAX_WINDOW_HOURS = LONGEST_WINDOW // timedelta(hours=1)


class Command(BaseCommand):
    help = (
        "Analyze the database: prioritized findings from the health checks, slow "
        "queries, index usage and settings, with evidence and the SQL to apply."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=sorted(RENDERERS), default="text")
        parser.add_argument("--output", help="write the report to this file")
        trial = parser.add_mutually_exclusive_group()
        trial.add_argument(
            "--trial-indexes",
            dest="trial_indexes",
            action="store_true",
            default=None,
            help=(
                "check index suggestions by building each index in a "
                "rolled-back transaction (locks the table while it builds; "
                "default on for the embedded development database)"
            ),
        )
        trial.add_argument(
            "--no-trial-indexes", dest="trial_indexes", action="store_false"
        )
        parser.add_argument(
            "--slow-query-ms",
            type=float,
            help="report statements from this mean time (MONITORING_SLOW_QUERY_MS)",
        )
        parser.add_argument(
            "--slow-query-calls",
            type=int,
            help="... and this many calls (MONITORING_SLOW_QUERY_CALLS)",
        )
        parser.add_argument(
            "--window-hours",
            type=int,
            help="judge statements and the cache hit rate over the last this "
            f"many hours of the statistics history (default {DEFAULT_WINDOW_HOURS};"
            " lifetime counters while no history covers them)",
        )
        parser.add_argument(
            "--min-table-rows",
            type=int,
            help="suggest indexes only on tables this large (default: the "
            "missing-index check's threshold)",
        )

    def handle(self, **options):
        check_range("--slow-query-ms", options["slow_query_ms"], 0, MAX_MEAN_MS)
        check_range("--slow-query-calls", options["slow_query_calls"], 0, BIGINT_MAX)
        check_range("--min-table-rows", options["min_table_rows"], 0, BIGINT_MAX)
        check_range("--window-hours", options["window_hours"], 1, MAX_WINDOW_HOURS)
        check_output_file("--output", options["output"])
        analyzer_options = Options.from_settings(
            slow_query_ms=options["slow_query_ms"],
            slow_query_calls=options["slow_query_calls"],
            min_table_rows=options["min_table_rows"],
            trial_indexes=options["trial_indexes"],
            window_hours=options["window_hours"],
        )
        try:
            report = build_report(analyzer_options)
        except StatisticsUnavailable as error:
            raise CommandError(str(error)) from error
        output = RENDERERS[options["format"]](report)
        if options["output"]:
            try:
                with open(options["output"], "w", encoding="utf-8") as file:
                    file.write(output)
            except OSError as error:
                raise CommandError(
                    f"Cannot write {options['output']}: {error}"
                ) from error
            counts = report.counts()
            self.stdout.write(
                f"Wrote {len(report.findings)} findings ({counts['critical']} "
                f"critical, {counts['warning']} warning) to {options['output']}"
            )
        else:
            self.stdout.write(output, ending="")
