"""Refresh materialized views from the shell."""

from django.core.management.base import BaseCommand, CommandError

from perfconsole.collaboration.models import ROLLUP_NAME
from perfconsole.core.db import StatisticsUnavailable
from perfconsole.maintenance.models import ViewRefresh
from perfconsole.maintenance.services import (
    UnknownView,
    list_materialized_views,
    refresh_view,
    request_refresh,
)


class Command(BaseCommand):
    help = (
        "Refresh materialized views and the activity rollup (all, or --view "
        f"NAME; the rollup is {ROLLUP_NAME}): queued for the task cluster, or "
        "run here and now with --sync."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--view", action="append", dest="views", metavar="NAME", default=[]
        )
        parser.add_argument(
            "--sync", action="store_true", help="Refresh here instead of queuing."
        )

    def handle(self, views, sync, **options):
        try:
            names = views or [view.name for view in list_materialized_views()]
            if not names:
                self.stdout.write("No materialized views found.")
                return
            failed = [name for name in names if not self.refresh(name, sync)]
        except (UnknownView, StatisticsUnavailable) as error:
            raise CommandError(str(error)) from None
        if failed:
            raise CommandError(f"Refresh failed: {', '.join(failed)}")

    def refresh(self, name, sync):
        """Refresh or queue one view; return False if it failed."""
        trigger = ViewRefresh.Trigger.COMMAND
        if not sync:
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
