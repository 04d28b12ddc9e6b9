"""Time the console's own pages: the health checks and the analyzer report.

Each page is requested --runs times in this process with Django's test
client (after one warm-up), signed in as a temporary superuser that is
deleted afterwards with its session. Prints one Markdown row per page: the
wall-clock time of the whole request, the time its SQL took (p95 of the
per-request sums) and the load average beside them; then, per page, its
slowest statements (median per request), and with --checks every health
check run on its own.
"""

import re
import secrets
import statistics
import time
from collections import defaultdict

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.test import Client
from django.urls import reverse

from perfconsole.core.db import QUERY_TAG
from perfconsole.core.timing import load_average, percentile, time_requests
from perfconsole.health.registry import registered_checks

PAGES = {
    "health checks": "admin:health_healthcheck_changelist",
    "analyzer": "admin:analyzer_analyzerreport_changelist",
}
SLOWEST = 5


def statement_name(sql):
    """Return a statement's first 70 characters, on one line, without its tag."""
    return re.sub(r"\s+", " ", sql.replace(QUERY_TAG, "")).strip()[:70]


class Command(BaseCommand):
    help = "Time the health checks and analyzer pages (p50, p95, SQL time)."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=30)
        parser.add_argument(
            "--checks",
            action="store_true",
            help="also time every health check on its own",
        )

    def handle(self, *, runs, checks, **options):
        if runs < 1:
            raise CommandError("--runs must be at least 1.")
        user = get_user_model().objects.create_superuser(
            f"benchpages-{secrets.token_hex(6)}", "", None
        )
        client = Client(SERVER_NAME="127.0.0.1")
        client.force_login(user)
        slowest = {}
        self.stdout.write(
            "| page | status | KB | statements | p50 ms | p95 ms | max ms"
            " | SQL p95 ms | load average |\n|---|---|---|---|---|---|---|---|---|"
        )
        try:
            for page, name in PAGES.items():
                row, slowest[page] = self.time_page(client, page, name, runs)
                self.stdout.write(row)
        finally:
            client.logout()
            user.delete()
        for page, statements in slowest.items():
            self.stdout.write(f"\n{page}: slowest statements (median ms per request)")
            for median, text in statements:
                self.stdout.write(f"  {median:7.1f}  {text}")
        if checks:
            self.time_checks(runs)

    def time_page(self, client, page, name, runs):
        """Request a page `runs` times (after one warm-up); return its row.

        Also returns its SLOWEST statements as (median ms, text).
        """
        timed = time_requests(client, reverse(name), runs)
        by_statement = defaultdict(list)
        for statements in timed.statements:
            for sql, ms in statements:
                by_statement[statement_name(sql)].append(ms)
        slowest = sorted(
            ((statistics.median(ms), text) for text, ms in by_statement.items()),
            reverse=True,
        )[:SLOWEST]
        row = (
            f"| {page} | {timed.response.status_code}"
            f" | {len(timed.response.content) / 1024:.0f}"
            f" | {len(timed.statements[-1])}"
            f" | {statistics.median(timed.times):.0f}"
            f" | {percentile(timed.times, 0.95):.0f}"
            f" | {max(timed.times):.0f} | {percentile(timed.sql_times, 0.95):.1f}"
            f" | {load_average()} |"
        )
        return row, slowest

    def time_checks(self, runs):
        """Run every health check `runs` times; print its p50 and p95."""
        self.stdout.write(
            "\n| health check | p50 ms | p95 ms | load average |\n|---|---|---|---|"
        )
        for check in registered_checks():
            check()
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                check()
                times.append((time.perf_counter() - started) * 1000)
            self.stdout.write(
                f"| {check.key} | {statistics.median(times):.1f}"
                f" | {percentile(times, 0.95):.1f} | {load_average()} |"
            )
