"""Reach a monitored database through a Django connection alias of its own.

Every monitoring function takes a `using` alias, so a page or a task that
passes connection_alias(database) reads that database exactly as it reads
the console's own. The alias carries a fingerprint of the connection
settings: a target whose parameters (or password) changed gets a new alias,
and no connection opened with the old settings is reused for it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os

from django.db import DEFAULT_DB_ALIAS, connections

from .models import MonitoredDatabase

ALIAS_PREFIX = "monitored_"
# Seconds a target may take to answer a connection: an unreachable server
# must not hold a page or a task worker for long.
TARGET_CONNECT_TIMEOUT_S = 5


class PasswordMissing(Exception):
    """The target names a password variable that is not set."""


def connection_alias(database: MonitoredDatabase) -> str:
    """Return the alias of a connection to the database, registering it once."""
    if database.is_console_database:
        return DEFAULT_DB_ALIAS
    settings_dict = target_settings(database)
    fingerprint = hashlib.sha256(
        json.dumps(settings_dict, sort_keys=True, default=str).encode()
    ).hexdigest()[:12]
    alias = f"{ALIAS_PREFIX}{database.pk}_{fingerprint}"
    if alias not in connections.settings:
        connections.settings[alias] = settings_dict
    return alias


def target_settings(database: MonitoredDatabase) -> dict:
    """Return the Django settings of a connection to a target.

    The console's own settings (time zone, tagging, application name) with
    the target's libpq parameters, no pool and no persistent connection.
    """
    settings_dict = copy.deepcopy(connections.settings[DEFAULT_DB_ALIAS])
    settings_dict.update(
        HOST=database.host,
        PORT=str(database.port or ""),
        NAME=database.dbname,
        USER=database.user,
        PASSWORD=target_password(database),
        CONN_MAX_AGE=0,
        CONN_HEALTH_CHECKS=False,
        TEST={"MIRROR": None, "NAME": None, "MIGRATE": False},
    )
    options = settings_dict["OPTIONS"]
    options.pop("pool", None)
    options["connect_timeout"] = TARGET_CONNECT_TIMEOUT_S
    for key in ("service", "sslmode"):
        options.pop(key, None)
        if getattr(database, key):
            options[key] = getattr(database, key)
    return settings_dict


def target_password(database: MonitoredDatabase) -> str:
    """Return the password from the named environment variable, or "" for libpq.

    An empty string lets libpq look in its password and service files.
    """
    if not database.password_env:
        return ""
    try:
        return os.environ[database.password_env]
    except KeyError:
        raise PasswordMissing(
            f"The environment variable {database.password_env} that holds the "
            f"password of {database.name} is not set in the console's "
            "processes: set it, or leave the field empty to use a password file."
        ) from None
