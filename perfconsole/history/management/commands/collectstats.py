"""Take one statistics snapshot now; or roll up, or prune, the history."""

from django.core.management.base import BaseCommand, CommandError

from perfconsole.history.collector import console_database
from perfconsole.history.dispatch import collect_and_judge
from perfconsole.history.models import MonitoredDatabase
from perfconsole.history.rollups import prune, rollup


class Command(BaseCommand):
    help = (
        "Collect one snapshot of the statistics views (pg_stat_statements, "
        "pg_stat_database, tables, indexes, I/O, activity) as deltas since "
        "the last one, and print what was stored and how long it took. "
        "--rollup and --prune run the hourly tasks instead."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--rollup",
            action="store_true",
            help="Roll raw deltas into hours and hours into days.",
        )
        parser.add_argument(
            "--database",
            metavar="NAME",
            help="the monitored database to collect (default: the console's "
            "own); its status is recorded and its alert raised or resolved",
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Delete rows past each level's retention (STATS_RETENTION_*).",
        )

    def handle(self, rollup=False, prune=False, database=None, **options):
        database = self.chosen(database)
        if rollup or prune:
            if rollup:
                self.stdout.write(f"rollup: {self.describe_rollup(database)}")
            if prune:
                self.stdout.write(f"prune: {self.describe_prune(database)}")
            return
        self.stdout.write(collect_and_judge(database).describe())

    def chosen(self, name):
        """Return the monitored database named, or the console's own."""
        if name is None:
            return console_database()
        database = MonitoredDatabase.objects.filter(name=name).first()
        if database is None:
            raise CommandError(f"No monitored database is named {name!r}.")
        return database

    def describe_rollup(self, database):
        done = rollup(database)
        return "; ".join(
            f"{level} {span[0]:%Y-%m-%d %H:%M}..{span[1]:%Y-%m-%d %H:%M}"
            if span
            else f"{level} up to date"
            for level, span in done.items()
        )

    def describe_prune(self, database):
        deleted = prune(database)
        return ", ".join(f"{name} {count}" for name, count in deleted.items()) or (
            "nothing past retention"
        )
