"""Re-create the statistics views for the current server and extension."""

from django.core.management.base import BaseCommand, CommandError

from perfconsole.monitoring.statviews import (
    ExtensionOwnerRequired,
    sync_views,
    update_extension,
)


class Command(BaseCommand):
    help = (
        "Re-create query_stats, slow_queries, index_usage_stats and "
        "table_performance_stats for this server's version and the installed "
        "pg_stat_statements. Run it after enabling or updating the extension."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--update-extension",
            action="store_true",
            help="Also run ALTER EXTENSION pg_stat_statements UPDATE (as its owner).",
        )

    def handle(self, *args, **options):
        if options.get("update_extension"):
            try:
                status = update_extension()
            except ExtensionOwnerRequired as refused:
                raise CommandError(str(refused)) from refused
        else:
            status = sync_views()
        if status.usable:
            return f"Views synced for pg_stat_statements {status.version}."
        lines = ["pg_stat_statements is not usable: placeholder views created."]
        lines += ["To enable it:"] + [f"  {step}" for step in status.steps]
        return "\n".join(lines)
