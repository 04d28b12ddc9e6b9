"""Health-check thresholds: PgHero's defaults and the seed's values.

The seed's values come from perfconsole.core.targets (TARGETS.md).

Override any of them with the HEALTH_THRESHOLDS setting (a dict); missing keys
fall back to these defaults.
"""

from django.conf import settings

from perfconsole.core.targets import ALERT_DEAD_TUPLES, ALERT_SEQ_SCAN_RATE, CACHE_HIT

MB = 1024 * 1024

DEFAULT_THRESHOLDS = {
    # PgHero warns below 99 %; the seed's target is "> 95 %", so below it is
    # critical.
    "cache_hit_rate_warning": 99.0,
    "cache_hit_rate_critical": CACHE_HIT.pct,
    # Seed: "Sequential scan rate > 20% for large tables"; PgHero: 10 000 rows.
    "seq_scan_ratio_pct": ALERT_SEQ_SCAN_RATE.pct,
    "missing_index_min_rows": 10_000,
    # PgHero 4: no scans and at least 10 MB.
    "unused_index_max_scans": 0,
    "unused_index_min_bytes": 10 * MB,
    # pgexperts' table bloat filter, PgHero's index bloat floor.
    "table_bloat_pct": 50.0,
    "table_bloat_min_bytes": 10 * MB,
    "index_bloat_pct": 50.0,
    "index_bloat_min_bytes": 100 * MB,
    # Seed: "Dead tuple count > 1000 for any table": the floor. Above it a
    # table is reported when its dead rows are this share of its rows, or
    # when they passed autovacuum's trigger and no vacuum came for this long
    # (or autovacuum is off for it). The seed's alert rule keeps the bare count.
    "dead_tuples": ALERT_DEAD_TUPLES,
    "dead_tuples_pct": 10.0,
    "autovacuum_lag_minutes": 60,
    # Vacuum and analyze recency: changed tables this large whose last
    # (auto)vacuum or (auto)analyze is older than this (or never happened).
    "maintenance_min_rows": 10_000,
    "maintenance_max_age_hours": 7 * 24,
    # PgHero's overview warns with fewer than 1.5 billion IDs left; its method
    # default (10 million left) is the critical level.
    "wraparound_warning_left": 1_500_000_000,
    "wraparound_critical_left": 10_000_000,
    # PgHero: sequences at 90 % of their column type's maximum.
    "sequence_used_pct": 90.0,
    # PgHero: 500 connections; also a share of max_connections.
    "total_connections": 500,
    "connections_warning_pct": 80.0,
    "connections_critical_pct": 95.0,
    # PgHero: 100 sessions idle in transaction; each one older than this warns.
    "idle_in_transaction_sec": 60,
    "idle_in_transaction_count": 100,
    # PgHero: 60 s.
    "long_running_query_sec": 60,
    # A session blocked this long is critical, a shorter wait a warning.
    "blocked_critical_sec": 60,
}


def thresholds():
    """Return the defaults updated with the HEALTH_THRESHOLDS setting."""
    return {**DEFAULT_THRESHOLDS, **getattr(settings, "HEALTH_THRESHOLDS", {})}


def check_threshold_setting(app_configs=None, **kwargs):
    """System check: HEALTH_THRESHOLDS may only hold known numeric keys."""
    from django.core.checks import Error

    configured = getattr(settings, "HEALTH_THRESHOLDS", {})
    if not isinstance(configured, dict):
        return [Error("HEALTH_THRESHOLDS must be a dict.", id="health.E001")]
    errors = []
    for key, value in configured.items():
        if key not in DEFAULT_THRESHOLDS:
            errors.append(
                Error(
                    f"HEALTH_THRESHOLDS has an unknown key {key!r}.",
                    hint="Known keys: " + ", ".join(sorted(DEFAULT_THRESHOLDS)),
                    id="health.E002",
                )
            )
        elif isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(
                Error(
                    f"HEALTH_THRESHOLDS[{key!r}] must be a number, not {value!r}.",
                    id="health.E003",
                )
            )
    return errors
