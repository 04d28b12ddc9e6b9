"""Numbers and times as a person reads them.

Durations in the unit that fits, sizes as pg_size_pretty prints them (base
1024, "kB" "MB" "GB"), settings as SHOW prints them, timestamps with seconds
in the console's time zone, and relative time. Each function returns "" for
a missing value (None, NaN), so templates can pass columns straight through;
number() gives back what is no number as it came.
CSV exports keep the raw numbers: these are for people, not machines.
"""

import math
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

Number = int | float | Decimal

MS_PER = {"min": 60_000.0, "h": 3_600_000.0, "days": 86_400_000.0}
SIZE_UNITS = ["bytes", "kB", "MB", "GB", "TB", "PB"]
# The units PostgreSQL gives a setting (pg_settings.unit), as bytes or ms.
SETTING_BYTES = {"B": 1, "kB": 1024, "8kB": 8192, "16kB": 16384, "MB": 1024**2}
SETTING_MS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000}
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S %Z"


def _number(value: object) -> float | None:
    """Return value as a finite float, or None when it is no number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _trim(number: float, places: int) -> str:
    """Format with at most `places` decimals and no trailing zeros."""
    text = f"{number:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def duration(milliseconds: object) -> str:
    """Return a duration in the unit that fits: "42 µs", "3.5 s", "10 min 0 s".

    Below a minute three significant digits; above, two whole units.
    """
    ms = _number(milliseconds)
    if ms is None:
        return ""
    sign, ms = ("-" if ms < 0 else ""), abs(ms)
    if ms == 0:
        return "0 ms"
    # Round first, so 999.9 ms reads "1 s", not "1,000 ms".
    ms = float(f"{ms:.3g}") if ms < MS_PER["min"] else ms
    if ms < 1:
        return f"{sign}{_significant(ms * 1000)} µs"
    if ms < 1000:
        return f"{sign}{_significant(ms)} ms"
    if ms < MS_PER["min"]:
        return f"{sign}{_significant(ms / 1000)} s"
    return sign + _whole_units(ms)


def _significant(number: float) -> str:
    """Format a number with three significant digits, no trailing zeros."""
    return _trim(number, max(0, 2 - math.floor(math.log10(number))))


def _whole_units(ms: float) -> str:
    """Return a minute or more as two whole units: "1 h 5 min", "2 days 3 h"."""
    total_seconds = round(ms / 1000)
    if total_seconds < 3600:
        return "{} min {} s".format(*divmod(total_seconds, 60))
    total_minutes = round(ms / MS_PER["min"])
    if total_minutes < 24 * 60:
        return "{} h {} min".format(*divmod(total_minutes, 60))
    days, hours = divmod(round(ms / MS_PER["h"]), 24)
    return f"{days:,} {'day' if days == 1 else 'days'} {hours} h"


def seconds(value: object) -> str:
    """Return a duration given in seconds (or a timedelta) in the unit that fits."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    number = _number(value)
    return "" if number is None else duration(number * 1000)


def size(value: object) -> str:
    """Return a byte count as pg_size_pretty prints it: base 1024, "10 MB"."""
    number = _number(value)
    if number is None:
        return ""
    sign, number = ("-" if number < 0 else ""), abs(number)
    unit = 0
    # pg_size_pretty moves up a unit at 10240, so figures keep 4 digits,
    # printed without a separator like PostgreSQL's.
    while number >= 10 * 1024 and unit < len(SIZE_UNITS) - 1:
        number /= 1024
        unit += 1
    return f"{sign}{math.floor(number + 0.5)} {SIZE_UNITS[unit]}"


def pg_setting(value: object, unit: str | None = "") -> str:
    """Return a setting as SHOW prints it: 32768 in 8kB pages is "256MB".

    Like SHOW, the largest unit that divides the value exactly is used.
    Values without a unit (or with an unknown one) are returned as given.
    """
    if value is None:
        return ""
    number = _number(value)
    unit = unit or ""
    if number is None or number != int(number):
        return f"{value}{unit if number is not None else ''}"
    amount = int(number)
    if amount <= 0:
        return str(amount)  # SHOW prints 0 and -1 ("off") without a unit
    if unit in SETTING_BYTES:
        units = ["B", "kB", "MB", "GB", "TB"]
        return _largest_unit(amount * SETTING_BYTES[unit], units, 1024)
    if unit in SETTING_MS:
        return _show_time(amount, unit)
    return f"{amount}{unit}" if unit else str(amount)


def _largest_unit(amount: int, units: list[str], step: int) -> str:
    """Return amount in the largest unit that divides it exactly."""
    index = 0
    while amount and amount % step == 0 and index < len(units) - 1:
        amount //= step
        index += 1
    return f"{amount}{units[index]}"


def _show_time(amount: int, unit: str) -> str:
    """Return a time setting as SHOW does: 60000 ms is "1min"."""
    factors = [("us", 1), ("ms", 1000), ("s", 1000), ("min", 60), ("h", 60)]
    factors.append(("d", 24))
    names = [name for name, _ in factors]
    index = names.index(unit)
    while amount and index + 1 < len(factors):
        step = factors[index + 1][1]
        if amount % step:
            break
        amount //= step
        index += 1
    return f"{amount}{names[index]}"


def timestamp(value: datetime | None) -> str:
    """Return a moment with seconds in the console's time zone."""
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.strftime(TIMESTAMP_FORMAT).rstrip()


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """Return how long ago a moment was: "just now", "3 min ago", "in 2 h"."""
    if value is None:
        return ""
    elapsed = ((now or timezone.now()) - value).total_seconds()
    if abs(elapsed) < 10:
        return "just now"
    amount = _rough(abs(elapsed))
    return f"{amount} ago" if elapsed > 0 else f"in {amount}"


def _rough(elapsed: float) -> str:
    """Return seconds as one rounded unit: "45 s", "3 min", "5 h", "2 days"."""
    if elapsed < 60:
        return f"{int(elapsed)} s"
    if elapsed < 3600:
        return f"{int(elapsed // 60)} min"
    if elapsed < 86_400:
        return f"{int(elapsed // 3600)} h"
    days = int(elapsed // 86_400)
    return f"{days:,} day" if days == 1 else f"{days:,} days"


def number(value: object) -> object:
    """Return a count with separators ("13,570"), a fraction with two decimals.

    What is no number (None, a flag, text) comes back as given.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return value
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


def identifier(value: object) -> str:
    """Return an id (a query id, a pid) as digits only: an id is no quantity."""
    return "" if value is None else str(value)


# How each readable form shows its exact value on hover.
EXACT = {
    "duration": lambda value: f"{value} ms",
    "seconds": lambda value: f"{value} s",
    "size": lambda value: f"{int(value):,} bytes",
    "timestamp": lambda value: value.isoformat(sep=" "),
    "ago": lambda value: timestamp(value),
}
READABLE = {
    "duration": duration,
    "seconds": seconds,
    "size": size,
    "timestamp": timestamp,
    "ago": ago,
}


def readable(value: object, kind: str) -> tuple[str, str]:
    """Return (readable form, exact form) of a value of one KIND above."""
    shown = READABLE[kind](value)  # type: ignore[operator]
    if not shown or shown == str(value) or _number(value) == 0:
        return shown, ""
    if isinstance(value, timedelta):
        return shown, f"{value.total_seconds()} s"
    exact = EXACT[kind](value)
    return shown, "" if exact == shown else exact
