"""Refresh materialized views from the shell."""

from django.core.management.base import BaseCommand, CommandError

from perfconsole.core.db import StatisticsUnavailable
from perfconsole.maintenance.models import ViewRefresh
from perfconsole.maintenance.services import (
    RefreshRefused,
    UnknownView,
    cluster_status,
    get_managed_view,
    list_materialized_views,
    refresh_view,
    request_refresh,
)


class Command(BaseCommand):
    help = (
        "Refresh the materialized views the console manages and what its apps "
        "register (summary tables, say) here and now: all, or --view NAME as listed; "
        "--queue hands them to the task cluster instead."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--view", action="append", dest="views", metavar="NAME", default=[]
        )
        parser.add_argument(
            "--queue",
            action="store_true",
            help="Queue the refreshes for the task cluster instead of running them.",
        )
        parser.add_argument(
            "--sync",
            action="store_true",
            help="Refresh here and now: the default, kept for existing scripts.",
        )

    def handle(self, views, queue, **options):
        try:
            # Nothing to settle first: refresh_view fails the view's orphaned
            # rows under its lock, and request_refresh settles under its own.
            names = self.chosen_views(views)
            if not names:
                self.stdout.write("No materialized views to refresh.")
                return
            if queue:
                self.warn_without_cluster()
            failed = [name for name in names if not self.refresh(name, queue)]
        except (RefreshRefused, StatisticsUnavailable) as error:
            raise CommandError(str(error)) from None
        if failed:
            raise CommandError(f"Refresh failed: {', '.join(failed)}")

    def chosen_views(self, views):
        """Return the names to refresh; refuse unknown or read-only ones first.

        Nothing is refreshed or written when one named view is refused.
        """
        listed = list_materialized_views()
        if views:
            try:
                return [get_managed_view(name).name for name in views]
            except UnknownView as error:
                known = ", ".join(view.name for view in listed) or "none"
                raise CommandError(f"{error} Known views: {known}.") from None
        for view in listed:
            if not view.managed:
                self.stdout.write(f"{view.name}: read-only, {view.unmanaged_reason}")
        return [view.name for view in listed if view.managed]

    def warn_without_cluster(self):
        """Say so when no task cluster is alive to run what is queued."""
        alive, description = cluster_status()
        if not alive:
            self.stderr.write(
                f"{description} The refreshes stay queued until one starts, and "
                "are marked failed after MAINTENANCE_QUEUE_WAIT_SECONDS; run "
                "without --queue to refresh here and now."
            )

    def refresh(self, name, queue):
        """Refresh or queue one view; return False if it failed."""
        trigger = ViewRefresh.Trigger.COMMAND
        if queue:
            refresh, created = request_refresh(name, trigger)
            state = "queued" if created else f"already {refresh.status}"
            self.stdout.write(f"{refresh.view_name}: {state} (#{refresh.pk})")
            return True
        refresh = refresh_view(name, trigger)
        line = f"{refresh.view_name}: {refresh.status} in {refresh.duration_ms} ms"
        if refresh.status == ViewRefresh.Status.SUCCEEDED:
            if refresh.concurrently is not None:
                line += " (concurrently)" if refresh.concurrently else " (plain)"
            self.stdout.write(self.style.SUCCESS(line))
        else:
            self.stdout.write(self.style.WARNING(f"{line}: {refresh.error}"))
        return refresh.status != ViewRefresh.Status.FAILED
