"""Create or update the console's django-q2 schedules."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from perfconsole.maintenance.schedules import ensure_schedules


class Command(BaseCommand):
    help = (
        "Create the schedules the console's apps declare (view refreshes, "
        "alert evaluation, history pruning) or bring them up to date. Safe to run on "
        "every deploy: nothing is duplicated, and timing edited in the admin is "
        "kept unless --reset is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Also restore the timing from settings (cron, interval).",
        )

    def handle(self, reset, **options):
        try:
            with transaction.atomic():
                outcome = ensure_schedules(reset=reset)
        except ValidationError as error:
            raise CommandError(f"Invalid schedule: {error}") from None
        for name, done in outcome.items():
            self.stdout.write(f"{name}: {done}")
