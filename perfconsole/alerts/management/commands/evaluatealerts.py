from django.core.management.base import BaseCommand

from perfconsole.alerts.evaluation import evaluate_alerts


class Command(BaseCommand):
    help = "Evaluate the alert rules now: fire, update and resolve alerts."

    def handle(self, *args, **options):
        summary = evaluate_alerts()
        for alert in summary.fired:
            self.stdout.write(
                f"FIRED     {alert.rule.name}: {alert.subject} = {alert.value:g}"
                f" on {alert.database.name}"
            )
        for alert in summary.resolved:
            self.stdout.write(
                f"RESOLVED  {alert.rule.name}: {alert.subject} on {alert.database.name}"
            )
        return str(summary)
