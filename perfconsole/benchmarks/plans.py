"""Read what a plan did: scans, indexes, buffers; and summarise timings."""

from __future__ import annotations

from perfconsole.core.timing import percentile

INDEX_NODES = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}


def walk(node: dict):
    """Yield a plan node and all the nodes below it."""
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)


def indexes_used(plan: dict) -> list[str]:
    """Return the names of the indexes the plan's nodes scanned, in order."""
    names = []
    for node in walk(plan):
        name = node.get("Index Name")
        if node.get("Node Type") in INDEX_NODES and name and name not in names:
            names.append(name)
    return names


def seq_scanned(plan: dict) -> list[str]:
    """Return the relations the plan read with a Seq Scan."""
    names = []
    for node in walk(plan):
        if node.get("Node Type") == "Seq Scan":
            name = node.get("Relation Name", "?")
            if name not in names:
                names.append(name)
    return names


def calls_function(plan: dict) -> bool:
    """Return whether the plan runs a set-returning function (opaque to it)."""
    return any(node.get("Node Type") == "Function Scan" for node in walk(plan))


def buffers(plan: dict) -> tuple[int, int]:
    """Return (shared hit, shared read) of the whole plan (its top node)."""
    return plan.get("Shared Hit Blocks", 0), plan.get("Shared Read Blocks", 0)


def summary(values: list[float]) -> dict:
    """Return p50/p95/p99/max/mean of timings in milliseconds, rounded."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0}
    return {
        "p50": round(percentile(values, 0.50), 3),
        "p95": round(percentile(values, 0.95), 3),
        "p99": round(percentile(values, 0.99), 3),
        "max": round(max(values), 3),
        "mean": round(sum(values) / len(values), 3),
    }


def reduction(before: float, after: float) -> float | None:
    """Return how much smaller `after` is than `before`, in percent."""
    if not before:
        return None
    return round(100.0 * (before - after) / before, 1)
