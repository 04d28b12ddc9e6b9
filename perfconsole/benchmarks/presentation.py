"""Put two stored runs side by side for the admin's comparison page."""

from __future__ import annotations

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
