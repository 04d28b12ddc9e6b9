"""Background tasks of the alerts app (run by the django-q2 cluster)."""


def evaluate_alerts():
    """Evaluate every alert rule now; scheduled every 5 minutes."""
    from .evaluation import evaluate_alerts as evaluate

    return str(evaluate())
