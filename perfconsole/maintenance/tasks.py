"""Background tasks: each fetches its arguments and calls a service.

Every task is safe to run twice: a refresh guarded by the view's advisory lock
is skipped or repeated, never overlapped, and pruning is a plain delete.
"""

from . import services


def refresh_view_task(name, trigger="schedule", refresh_id=None):
    """Refresh one materialized view or registered refreshable; return the outcome.

    Apps schedule their refreshables with it (args: the name).
    """
    return services.refresh_view(name, trigger, refresh_id=refresh_id).status


def refresh_all_views(trigger="schedule"):
    """Refresh every materialized view; return each view's outcome."""
    return {
        refresh.view_name: refresh.status
        for refresh in services.refresh_all_views(trigger)
    }


def prune_history(days=None):
    """Delete old refresh history; return how many rows went."""
    return services.prune_history(days)
