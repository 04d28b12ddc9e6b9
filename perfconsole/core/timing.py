"""What the timing commands share: percentiles, the load average, timed requests.

`benchadmin`, `benchpages`, `benchfleet` and `benchmark --scaling` print
their figures with the machine's load average beside them.
"""

import math
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import connection

if TYPE_CHECKING:
    # Annotations only: the web process imports this module (through the
    # benchmarks' percentile) and has no use for Django's test client.
    from django.test import Client

    # What the test client returns (django-stubs' name for it).
    from django.test.client import _MonkeyPatchedWSGIResponse as Response


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages, as `uptime` prints them."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def percentile(values: list[float], fraction: float) -> float:
    """Return the value at this fraction, interpolated between ranks."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class StatementTimer:
    """Record every statement's text and time in ms (an execute wrapper).

    Django's captured queries round times to the millisecond.
    """

    def __init__(self):
        self.statements: list[tuple[str, float]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            self.statements.append((str(sql), elapsed))


@dataclass
class RequestTimes:
    """A page requested several times: the last response and every timing."""

    response: "Response"
    # Per request, in ms: the whole request, and the sum of its statements.
    times: list[float] = field(default_factory=list)
    sql_times: list[float] = field(default_factory=list)
    # Per request, its statements as (text, ms).
    statements: list[list[tuple[str, float]]] = field(default_factory=list)


def time_requests(client: "Client", url: str, runs: int) -> RequestTimes:
    """Request a page `runs` times after one warm-up, timing each request."""
    timed = RequestTimes(client.get(url))
    for _ in range(runs):
        timer = StatementTimer()
        with connection.execute_wrapper(timer):
            started = time.perf_counter()
            timed.response = client.get(url)
            timed.times.append((time.perf_counter() - started) * 1000)
        timed.sql_times.append(sum(ms for _, ms in timer.statements))
        timed.statements.append(timer.statements)
    return timed
