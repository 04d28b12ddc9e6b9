"""Read settings from the environment, with clear errors for bad values."""

import os
from collections.abc import Iterable
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool = False) -> bool:
    """Return an environment flag; reject words that are neither true nor false."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1/0, true/false")


def env_int(name: str, default: int) -> int:
    """Return an environment integer, or say which variable is wrong."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_list(name: str, default: Iterable[str] = ()) -> list[str]:
    """Return a comma-separated environment variable as a list."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


PROCESS_KINDS = ("web", "qcluster", "command", "test")


def process_kind() -> str:
    """Return the kind of process its entry point named in PERFCONSOLE_PROCESS.

    manage.py, config/wsgi.py and the test session set it; the settings only
    read it (for `application_name`, the pool and the test key).
    """
    kind = os.environ.get("PERFCONSOLE_PROCESS") or "command"
    if kind not in PROCESS_KINDS:
        raise ImproperlyConfigured(
            f"PERFCONSOLE_PROCESS={kind!r}: use one of {', '.join(PROCESS_KINDS)}"
        )
    return kind


def database_from_url(
    url: str,
    *,
    kind: str,
    pool: dict[str, Any] | None = None,
    connect_timeout: int = 10,
) -> dict[str, Any]:
    """Build a Django DATABASES entry from a postgres:// URL.

    `pool` is a dict of psycopg_pool options, or None for a connection per
    request. Only PostgreSQL URLs are accepted.
    """
    if not url or "://" not in url:
        raise ImproperlyConfigured(
            f"DATABASE_URL={url!r} is not a URL: expected "
            "postgresql://user:password@host:5432/dbname"
        )
    scheme = url.split("://", 1)[0]
    if scheme not in ("postgres", "postgresql", "pgsql"):
        raise ImproperlyConfigured(
            f"DATABASE_URL uses {scheme!r}: perfconsole needs PostgreSQL "
            "(postgresql://user:password@host:5432/dbname)"
        )
    try:
        config: dict[str, Any] = {**dj_database_url.parse(url)}
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL cannot be parsed: {error}") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured(
            "DATABASE_URL names no database: add /dbname after the host"
        )
    options = config.setdefault("OPTIONS", {})
    options.setdefault("application_name", f"perfconsole-{kind}")
    options.setdefault("connect_timeout", connect_timeout)
    # Connect in UTC (Django's zone with USE_TZ): Django then sends no
    # "SELECT set_config('TimeZone', ...)" on every new connection.
    server_options = options.get("options", "")
    if "TimeZone" not in server_options:
        options["options"] = f"{server_options} -c TimeZone=UTC".strip()
    if pool:
        options["pool"] = pool
        config["CONN_MAX_AGE"] = 0
    config["CONN_HEALTH_CHECKS"] = True
    return config
