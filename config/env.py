"""Read settings from the environment, with clear errors for bad values."""

import os
import sys

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_bool(name, default=False):
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


def env_int(name, default):
    """Return an environment integer, or say which variable is wrong."""
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_list(name, default=()):
    """Return a comma-separated environment variable as a list."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def process_kind(argv=None):
    """Say which kind of process this is, for `application_name`."""
    if os.environ.get("PERFCONSOLE_PROCESS"):
        return os.environ["PERFCONSOLE_PROCESS"]
    argv = sys.argv if argv is None else argv
    program = os.path.basename(argv[0]) if argv else ""
    if "gunicorn" in program or "runserver" in argv:
        return "web"
    if "qcluster" in argv:
        return "qcluster"
    if "pytest" in sys.modules:
        return "test"
    return "command"


def database_from_url(url, *, kind, pool=None, connect_timeout=10):
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
        config = dj_database_url.parse(url)
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL cannot be parsed: {error}") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured(
            "DATABASE_URL names no database: add /dbname after the host"
        )
    options = config.setdefault("OPTIONS", {})
    options.setdefault("application_name", f"perfconsole-{kind}")
    options.setdefault("connect_timeout", connect_timeout)
    if pool:
        options["pool"] = pool
        config["CONN_MAX_AGE"] = 0
    config["CONN_HEALTH_CHECKS"] = True
    return config
