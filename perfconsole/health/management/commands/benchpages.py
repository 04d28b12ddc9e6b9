"""Time the console's own pages: the health checks and the analyzer report.

Each page is requested --runs times in this process with Django's test
client (after one warm-up), signed in as a temporary superuser that is
deleted afterwards with its session. Prints one Markdown row per page: the
wall-clock time of the whole request, the time its SQL took (p95 of the
per-request sums) and the load average beside them; then, per page, its
slowest statements (median per request), and with --checks every health
check run on its own.
"""

import math
import re
import secrets
import statistics
import time
from collections import defaultdict

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse

from perfconsole.core.db import QUERY_TAG
from perfconsole.health.registry import registered_checks

PAGES = {
    "health checks": "admin:health_healthcheck_changelist",
    "analyzer": "admin:analyzer_analyzerreport_changelist",
}
SLOWEST = 5


def p95(values):
    """Return the 95th percentile (nearest rank) of a list of numbers."""
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def load_average():
    """Return the 1, 5 and 15-minute load averages as one string."""
    with open("/proc/loadavg") as file:
        return " ".join(file.read().split()[:3])


class StatementTimer:
    """Record every statement's text and time in ms (an execute wrapper).

    Django's captured queries round times to the millisecond.
    """

    def __init__(self):
        self.statements = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            self.statements.append((str(sql), elapsed))


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
        url = reverse(name)
        response = client.get(url)
        times, sql_times = [], []
        by_statement = defaultdict(list)
        for _ in range(runs):
            timer = StatementTimer()
            with connection.execute_wrapper(timer):
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            sql_times.append(sum(ms for _, ms in timer.statements))
            for sql, ms in timer.statements:
                by_statement[statement_name(sql)].append(ms)
        slowest = sorted(
            ((statistics.median(ms), text) for text, ms in by_statement.items()),
            reverse=True,
        )[:SLOWEST]
        row = (
            f"| {page} | {response.status_code}"
            f" | {len(response.content) / 1024:.0f}"
            f" | {len(timer.statements)}"
            f" | {statistics.median(times):.0f} | {p95(times):.0f}"
            f" | {max(times):.0f} | {p95(sql_times):.1f} | {load_average()} |"
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
                f" | {p95(times):.1f} | {load_average()} |"
            )
