"""The analyzer's vocabulary: findings, target checks and the report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from perfconsole.core import formatting

CRITICAL = "critical"
WARNING = "warning"
INFO = "info"

# Lower rank sorts first: the most urgent finding leads the report.
SEVERITY_RANK = {CRITICAL: 0, WARNING: 1, INFO: 2}


@dataclass
class Finding:
    """One thing the analyzer wants a DBA to look at, with proof and a fix.

    `evidence` holds the numbers behind the finding; `fix_sql` the exact SQL or
    setting change to apply (empty when the fix is not a statement);
    `weight` orders findings of equal severity (bigger comes first).
    """

    check: str
    severity: str
    subject: str
    title: str
    evidence: dict
    impact: str
    recommendation: str
    fix_sql: str = ""
    weight: float = 0.0
    # A console page with more about the subject (set by the admin page).
    detail_url: str = ""

    def as_dict(self):
        """Return the finding as plain data for the JSON report."""
        data = asdict(self)
        data.pop("weight")
        data.pop("detail_url")
        return data

    def evidence_items(self):
        """Return (key, text) of the evidence as a person reads it.

        Values that are missing (None, empty lists) are left out rather than
        shown as "None"; an empty string reads "empty".
        """
        return [
            (key, readable(value, key))
            for key, value in self.evidence.items()
            if value is not None and value != [] and value != {}
        ]


# Evidence keys whose numbers carry a unit, and how each reads.
UNIT_SUFFIXES = (
    ("_ms", formatting.duration),
    ("_bytes", formatting.size),
    ("_sec", formatting.seconds),
)
# Counts read with separators; ids (queryid, pid, oid) and ratios as given.
COUNT_KEYS = ("calls", "rows", "dead_rows", "live_rows", "idx_scan", "seq_scan")


def readable(value, key=""):
    """Return an evidence value as text: no Python repr, no "None".

    The key names the unit of a number: "mean_ms" 600.097 reads "600 ms",
    "size_bytes" 16384 reads "16 kB"; counts get separators, ids none.
    """
    if value is None:
        return "–"
    if isinstance(value, int | float) and not isinstance(value, bool):
        for suffix, shown in UNIT_SUFFIXES:
            if key.endswith(suffix):
                return shown(value)
        if key in COUNT_KEYS and value == int(value):
            return f"{int(value):,}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value if value != "" else "empty"
    if isinstance(value, datetime):
        return formatting.timestamp(value)
    if isinstance(value, dict):
        if "subject" in value:
            others = [readable(v, k) for k, v in value.items() if k != "subject"]
            details = "; ".join(text for text in others if text)
            return f"{value['subject']} ({details})" if details else value["subject"]
        return ", ".join(f"{k} {readable(v, k)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(readable(item) for item in value) or "none"
    return str(value)


@dataclass
class TargetCheck:
    """A target or goal (perfconsole.core.targets), met, missed or not measured.

    `met` is None when the figure could not be measured.
    """

    name: str
    target: str
    measured: str
    met: bool | None
    detail: str = ""

    @property
    def status(self):
        """Return "met", "missed" or "not measured"."""
        if self.met is None:
            return "not measured"
        return "met" if self.met else "missed"

    def as_dict(self):
        """Return the target check as plain data for the JSON report."""
        return {**asdict(self), "status": self.status}


@dataclass
class Report:
    """The analyzer report: prioritized findings, targets and notes."""

    generated_at: datetime
    database: str
    server_version: str
    findings: list[Finding] = field(default_factory=list)
    targets: list[TargetCheck] = field(default_factory=list)
    # Sentences about parts that could not run (a timeout, a missing grant).
    notes: list[str] = field(default_factory=list)
    # Our goals (perfconsole.core.targets) judged on the latest benchmark run.
    benchmark_run: str = ""
    benchmark: list[TargetCheck] = field(default_factory=list)
    # Over which window the cache hit rate and the queries are judged.
    window: str = ""

    def counts(self):
        """Return the number of findings per severity."""
        counts = {CRITICAL: 0, WARNING: 0, INFO: 0}
        for finding in self.findings:
            counts[finding.severity] += 1
        return counts

    def as_dict(self):
        """Return the whole report as plain data for the JSON report."""
        return {
            "generated_at": self.generated_at.isoformat(),
            "database": self.database,
            "server_version": self.server_version,
            "window": self.window,
            "summary": self.counts(),
            "findings": [finding.as_dict() for finding in self.findings],
            "targets": [target.as_dict() for target in self.targets],
            "benchmark": {
                "run": self.benchmark_run,
                "goals": [check.as_dict() for check in self.benchmark],
            },
            "notes": self.notes,
        }


def prioritize(findings):
    """Return findings ordered by severity, then by weight (impact)."""
    return sorted(
        findings,
        key=lambda finding: (SEVERITY_RANK[finding.severity], -finding.weight),
    )
