"""The activity rollup, registered with the maintenance app's refreshables.

Listed, refreshed (under its lock, with history and audit) and alerted on
like a materialized view, under ROLLUP_NAME.
"""

from perfconsole.maintenance import registry

from .models import ROLLUP_NAME, ROLLUP_TABLES

ACTIVITY_ROLLUP = registry.Refreshable(
    name=ROLLUP_NAME,
    kind="rollup",
    # The rebuild is one transaction (readers keep the old rollup until it
    # commits); VACUUM (ANALYZE) afterwards sets the visibility map and the
    # statistics, so get_organization_analytics reads it index-only with good
    # plans.
    statements=(
        "SELECT refresh_organization_activity_rollup()",
        f"VACUUM (ANALYZE) {', '.join(ROLLUP_TABLES)}",
    ),
    state_function="organization_activity_rollup_state()",
    description=(
        "the activity rollup get_organization_analytics reads: rebuilt "
        "incrementally in one transaction, readers never wait"
    ),
)


def register():
    """Register the activity rollup (from CollaborationConfig.ready())."""
    registry.register(ACTIVITY_ROLLUP)
