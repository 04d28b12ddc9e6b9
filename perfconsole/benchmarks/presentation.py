"""Put two stored runs side by side for the admin's comparison page."""

from __future__ import annotations

from perfconsole.core import formatting

from .plans import reduction


def compare_runs(before, after) -> list[dict]:
    """Return one row per query name found in either run, in the first's order."""
    first = {result.name: result for result in before.results.all()}
    second = {result.name: result for result in after.results.all()}
    names = list(first) + [name for name in second if name not in first]
    rows = []
    for name in names:
        a, b = first.get(name), second.get(name)
        rows.append(
            {
                "name": name,
                "before": a,
                "after": b,
                "p50_change": _change(a, b, "p50_ms"),
                "p95_change": _change(a, b, "p95_ms"),
                "plan_changed": bool(a and b and a.indexes != b.indexes),
            }
        )
    return rows


def _change(a, b, field) -> float | None:
    """Return how much faster b is than a on this figure, in percent."""
    if a is None or b is None:
        return None
    return reduction(getattr(a, field), getattr(b, field))


def shown_settings(stored: dict) -> dict:
    """Return a run's settings as SHOW prints them: "32768 8kB" reads "256MB".

    Runs store pg_settings' value and unit as one text ("32768 8kB").
    """
    shown = {}
    for name, text in stored.items():
        value, _, unit = str(text).partition(" ")
        shown[name] = formatting.pg_setting(value, unit) if unit else text
    return shown
