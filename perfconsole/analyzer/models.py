"""The analyzer keeps no data: one model only holds its admin permission."""

from django.db import models


class AnalyzerReport(models.Model):
    """Hold the permission to read the analyzer report in the admin.

    The report is computed from the server's statistics on every request, so
    no table backs this model.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_report", "Can view the analyzer report")]
        verbose_name = "analyzer report"
        verbose_name_plural = "analyzer report"

    def __str__(self):
        return "analyzer report"
