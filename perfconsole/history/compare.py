"""Compare two windows of the history: what a deploy made slower or new.

Windows are [start, end) on the snapshots' times: a collection's deltas are
stored at the moment it ran and describe the interval before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from perfconsole.core.db import QUERY_TAG

from .models import StatementText, query_stat_id
from .windows import change, counter_sums, statement_sums


@dataclass
class Comparison:
    """The four lists of the compare page."""

    slower: list[dict] = field(default_factory=list)
    new: list[dict] = field(default_factory=list)
    gone: list[dict] = field(default_factory=list)
    seq_scans: list[dict] = field(default_factory=list)


def figures(sums):
    """Return calls, total and mean time (ms) of one statement's sums."""
    calls = float(sums.get("calls") or 0)
    total = float(sums.get("total_exec_time") or 0) + float(
        sums.get("total_plan_time") or 0
    )
    return {
        "calls": int(calls),
        "total_time": total,
        "mean_time": total / calls if calls else None,
        "rows": int(sums.get("rows") or 0),
    }


def compare_windows(database, before, after, threshold_pct, min_calls):
    """Compare the statements and tables of two windows ((start, end) each).

    The console's own statements are left out. A statement is slower when
    it ran at least min_calls times in both windows and its mean time rose by
    more than threshold_pct. New and gone statements ran in one window only.
    A table's sequential scans jumped when their rate per hour rose by more
    than threshold_pct, with at least min_calls of them after.
    """
    old = {k: figures(v) for k, v in statement_sums(database, *before).items()}
    now = {k: figures(v) for k, v in statement_sums(database, *after).items()}
    texts = StatementText.objects.in_bulk([*old, *now])
    # The console's own statements (tagged) are not the deploy's.
    console = {key for key, text in texts.items() if QUERY_TAG in text.query}
    old = {key: value for key, value in old.items() if key not in console}
    now = {key: value for key, value in now.items() if key not in console}
    result = Comparison()
    for statement_id, current in now.items():
        previous = old.get(statement_id)
        if previous is None or not previous["calls"]:
            if current["calls"]:
                result.new.append(statement_row(texts[statement_id], after=current))
            continue
        if min(previous["calls"], current["calls"]) < min_calls:
            continue
        rise = change(current["mean_time"], previous["mean_time"])
        if rise is not None and rise > threshold_pct:
            row = statement_row(texts[statement_id], previous, current)
            row["mean_change"] = rise
            result.slower.append(row)
    for statement_id, previous in old.items():
        if previous["calls"] and not now.get(statement_id, {}).get("calls"):
            result.gone.append(statement_row(texts[statement_id], before=previous))
    result.slower.sort(key=lambda row: row["mean_change"], reverse=True)
    result.new.sort(key=lambda row: row["after_total_time"], reverse=True)
    result.gone.sort(key=lambda row: row["before_total_time"], reverse=True)
    result.seq_scans = seq_scan_jumps(database, before, after, threshold_pct, min_calls)
    return result


def statement_row(text, before=None, after=None):
    """Return one statement's row: identity, text and each window's figures."""
    row = {
        "statement_id": text.id,
        "queryid": text.queryid,
        "query": text.query,
        "page_id": query_stat_id(text.queryid, text.userid, text.toplevel),
    }
    for side, values in (("before", before), ("after", after)):
        for name in ("calls", "total_time", "mean_time", "rows"):
            row[f"{side}_{name}"] = values[name] if values else None
    return row


def per_hour(count, window):
    """Return a count per hour of a window."""
    start, end = window
    return count / ((end - start).total_seconds() / 3600)


def seq_scan_jumps(database, before, after, threshold_pct, min_scans):
    """Return the tables whose sequential scans per hour rose past the threshold.

    Rates per hour, so that windows of different lengths compare.
    """
    old = counter_sums(database, "table", *before)
    now = counter_sums(database, "table", *after)
    rows = []
    for table, counters in now.items():
        scans = counters.get("seq_scan", 0)
        if scans < min_scans:
            continue
        earlier = old.get(table, {}).get("seq_scan", 0)
        rate_before, rate_after = per_hour(earlier, before), per_hour(scans, after)
        rise = change(rate_after, rate_before)
        if rise is None or rise > threshold_pct:
            rows.append(
                {
                    "table": table,
                    "before_seq_scan": int(earlier),
                    "after_seq_scan": int(scans),
                    "before_per_hour": rate_before,
                    "after_per_hour": rate_after,
                    "rise": rise,
                    "after_seq_tup_read": int(counters.get("seq_tup_read", 0)),
                }
            )
    rows.sort(key=lambda row: row["after_per_hour"], reverse=True)
    return rows
