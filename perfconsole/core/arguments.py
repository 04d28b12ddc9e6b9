"""Checks of command-line arguments, made before a command does any work.

A bad argument found after a run of minutes loses the run; these checks
raise a CommandError that names the option and what it accepts.
"""

import os
from pathlib import Path

from django.core.management.base import CommandError

# The largest count a bigint column or parameter holds.
BIGINT_MAX = 2**63 - 1


def check_range(option, value, low, high, *, low_open=False, unit=""):
    """Raise CommandError unless value is within [low, high] (None passes).

    With low_open the low end itself is refused. NaN is refused too: every
    comparison with it is false.
    """
    if value is None:
        return
    above_low = value > low if low_open else value >= low
    if above_low and value <= high:
        return
    low_text = f"greater than {number(low)}" if low_open else f"at least {number(low)}"
    unit = f" {unit}" if unit else ""
    raise CommandError(
        f"{option} must be {low_text} and at most {number(high)}{unit}; got {value}."
    )


def number(value):
    """Return an int with thousands separators, a float in its short form."""
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def check_output_file(option, name):
    """Raise CommandError unless a file can be written at name (None passes).

    The folder must exist and be writable, and name must not be a folder.
    """
    if not name:
        return
    path = Path(name)
    folder = path.parent
    cannot = f"Cannot write {name} ({option})"
    if path.is_dir():
        raise CommandError(f"{cannot}: it is a folder; give a file name.")
    if not folder.is_dir():
        raise CommandError(
            f"{cannot}: the folder {folder} does not exist; create it first or "
            "choose another path."
        )
    if path.exists():
        writable = os.access(path, os.W_OK)
    else:
        writable = os.access(folder, os.W_OK | os.X_OK)
    if not writable:
        raise CommandError(f"{cannot}: no permission to write there.")
