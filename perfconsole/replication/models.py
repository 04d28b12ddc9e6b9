"""Replication is read live from the servers: no table, only a permission."""

from django.db import models


class Replication(models.Model):
    """Hold the permission to see a target's replication in the admin."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_replication", "Can view replication")]
        verbose_name = "replication"
        verbose_name_plural = "replication"

    def __str__(self):
        return "replication"
