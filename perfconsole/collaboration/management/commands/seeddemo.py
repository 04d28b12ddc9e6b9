"""Load realistic demo data into the collaboration tables."""

import time

import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError

from perfconsole.collaboration.demo import SCALES, load_demo, tables_are_empty


class Command(BaseCommand):
    help = (
        "Load skewed, deterministic demo data (COPY, then ANALYZE) into the "
        "collaboration tables: --scale small|medium|large."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=sorted(SCALES), default="small")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--reset", action="store_true", help="replace existing data"
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            dest="if_empty",
            help="load only when the collaboration tables are empty",
        )

    def handle(self, *, scale, seed, reset, if_empty, **options):
        empty = tables_are_empty()
        if if_empty and not empty:
            self.stdout.write("Demo data: the collaboration tables hold data, kept.")
            return
        if not empty and not reset:
            raise CommandError(
                "The collaboration tables already hold data: add --reset to "
                "replace it (or --if-empty to keep it)."
            )
        started = time.monotonic()
        try:
            counts = load_demo(SCALES[scale], seed=seed, stream=self.stderr._out)
        except (OperationalError, psycopg.OperationalError) as error:
            # Typically the lock timeout: another session uses the tables.
            raise CommandError(
                f"Demo data not loaded, nothing changed: {error}"
            ) from error
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{table} {n:,}" for table, n in counts.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ({scale}, seed {seed}) loaded in {elapsed:.1f}s: {summary}"
            )
        )
