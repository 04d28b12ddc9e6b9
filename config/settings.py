"""perfconsole settings, read from the environment.

Every variable is listed in README.md. With DATABASE_URL unset the console
uses the embedded PostgreSQL under var/. Importing this module starts
nothing: the entry points (manage.py, config/wsgi.py, the test session) name
the kind of process in PERFCONSOLE_PROCESS and start that server.
"""

import os
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from config.env import database_from_url, env_bool, env_int, env_list, process_kind

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

PROCESS_KIND = process_kind()
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY and PROCESS_KIND == "test":
    # The suite runs with DEBUG off, as in production, with a throwaway key.
    SECRET_KEY = "test-only-key-" + "x" * 40
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off: set SECRET_KEY to a long "
            "random string (python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))') or set DEBUG=1 for local use"
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = False
# Timestamps with seconds everywhere in the admin (config/formats/en/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]

INSTALLED_APPS = [
    # Before django.contrib.admin so its templates override the admin's.
    "perfconsole.core",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_tables2",
    "django_q",
    "perfconsole.embedded",
    "perfconsole.collaboration",
    "perfconsole.monitoring",
    "perfconsole.health",
    "perfconsole.maintenance",
    "perfconsole.alerts",
    "perfconsole.benchmarks",
    "perfconsole.analyzer",
    "perfconsole.history",
    "perfconsole.replication",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Early, so that the 400 and 503 pages answered below carry the policy too.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A NUL byte or a malformed action selection is a 400 before any query.
    "perfconsole.core.middleware.BadInputMiddleware",
    # Before the session and auth middleware: every database read is bounded.
    "perfconsole.core.database_faults.DatabaseFaultsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # ?target=<id> picks the monitored database the pages show (after the
    # session, the user and messages it needs).
    "perfconsole.history.scoping.TargetMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# -- database ---------------------------------------------------------------

DB_POOL_MIN = env_int("DB_POOL_MIN", 1)
DB_POOL_MAX = env_int("DB_POOL_MAX", 4)
DB_POOL_TIMEOUT = env_int("DB_POOL_TIMEOUT", 30)
DB_POOL_MAX_IDLE = env_int("DB_POOL_MAX_IDLE", 300)
DB_CONNECT_TIMEOUT = env_int("DB_CONNECT_TIMEOUT", 10)

if DB_POOL_MAX < 0 or DB_POOL_MIN < 0 or DB_POOL_MIN > max(DB_POOL_MAX, 0):
    raise ImproperlyConfigured(
        f"DB_POOL_MIN={DB_POOL_MIN} and DB_POOL_MAX={DB_POOL_MAX}: "
        "need 0 <= DB_POOL_MIN <= DB_POOL_MAX (DB_POOL_MAX=0 turns the pool off)"
    )


def _pool_options():
    # The task cluster forks its workers: a pool opened in the parent would be
    # shared by children, so the cluster uses one plain connection per worker.
    if DB_POOL_MAX == 0 or PROCESS_KIND == "qcluster":
        return None
    return {
        "min_size": DB_POOL_MIN,
        "max_size": DB_POOL_MAX,
        "timeout": DB_POOL_TIMEOUT,
        "max_idle": DB_POOL_MAX_IDLE,
    }


DATABASE_URL = os.environ.get("DATABASE_URL", "")
EMBEDDED_DATABASE = not DATABASE_URL
if EMBEDDED_DATABASE:
    from perfconsole.embedded import configured_server

    # Where the server runs or will run; the entry points start it.
    DATABASE_URL = configured_server().planned_url()

DATABASES = {
    "default": database_from_url(
        DATABASE_URL,
        kind=PROCESS_KIND,
        pool=_pool_options(),
        connect_timeout=DB_CONNECT_TIMEOUT,
    )
}
if os.environ.get("PERFCONSOLE_TEST_DB"):
    # Lets several test runs share one server, each with its own database.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["PERFCONSOLE_TEST_DB"]}

if PROCESS_KIND == "web":
    # The first statement of every request (perfconsole.core.database_faults)
    # checks the pooled connection; the pool's own check would wait
    # DB_POOL_TIMEOUT for a new connection when the server is down.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
if PROCESS_KIND == "qcluster":
    # django-q2 closes "old" connections before every poll of its queue: with
    # no age, each worker opened a new backend about every second.
    DATABASES["default"]["CONN_MAX_AGE"] = 60
# Every admin request runs with these limits (milliseconds); one that hits
# them gets a page naming the blocking sessions instead of hanging a worker.
ADMIN_STATEMENT_TIMEOUT_MS = env_int("ADMIN_STATEMENT_TIMEOUT_MS", 10000)
ADMIN_LOCK_TIMEOUT_MS = env_int("ADMIN_LOCK_TIMEOUT_MS", 2000)

REPLICA_DATABASE_URL = os.environ.get("REPLICA_DATABASE_URL", "")
if REPLICA_DATABASE_URL:
    DATABASES["replica"] = database_from_url(
        REPLICA_DATABASE_URL,
        kind=PROCESS_KIND,
        pool=_pool_options(),
        connect_timeout=DB_CONNECT_TIMEOUT,
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["perfconsole.core.routers.AnalyticsReplicaRouter"]
# Models whose reads may go to the replica (label "app.Model").
ANALYTICS_MODELS = {"collaboration.TeamProductivityAnalytics"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# -- static files and security ----------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# X-Forwarded-Proto is trusted only behind a proxy that sets it: a client
# reaching gunicorn directly could otherwise claim HTTPS on plain HTTP.
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Content-Security-Policy (django-csp): scripts and styles only from the
# console's own static files; no inline code, plugins, framing or foreign forms.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# -- e-mail (alert notifications) -------------------------------------------

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "perfconsole@localhost")

# -- background tasks (django-q2) -------------------------------------------

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # An unlogged table made by the maintenance app's migrations.
    "tasks": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "perfconsole_task_cache",
    },
}

Q_CLUSTER: dict[str, Any] = {
    "name": "perfconsole",
    # The ORM broker on the default database: no Redis needed.
    "orm": "default",
    # The cluster's heartbeat (django-q2's Stat) goes to a cache every process
    # reads, so the web pages can tell whether a cluster is alive.
    "cache": "tasks",
    "workers": env_int("Q_WORKERS", 2),
    # A task is killed after `timeout` seconds; the broker hands it out again
    # only after `retry`, so retry must stay above timeout.
    "timeout": 600,
    "retry": 720,
    "max_attempts": 2,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 500,
    "poll": 1,
    "label": "Background tasks",
}

# -- monitoring (perfconsole.monitoring, perfconsole.health) -----------------

# Every statistics query runs with these limits (milliseconds).
MONITORING_STATEMENT_TIMEOUT_MS = env_int("MONITORING_STATEMENT_TIMEOUT_MS", 5000)
MONITORING_LOCK_TIMEOUT_MS = env_int("MONITORING_LOCK_TIMEOUT_MS", 1000)
# The query table's "slow only" filter (PgHero's defaults).
MONITORING_SLOW_QUERY_MS = env_int("MONITORING_SLOW_QUERY_MS", 20)
MONITORING_SLOW_QUERY_CALLS = env_int("MONITORING_SLOW_QUERY_CALLS", 100)
# EXPLAIN on the query page (never ANALYZE) stops after this long.
MONITORING_EXPLAIN_TIMEOUT_MS = env_int("MONITORING_EXPLAIN_TIMEOUT_MS", 10000)
# Plans of monitored statements are made on a connection of their own, as a
# role with no right on the console (README: "EXPLAIN of a monitored
# statement"). The embedded server's default is perfconsole_explain; with
# DATABASE_URL and no EXPLAIN_DATABASE_URL, plans are off.
EXPLAIN_DATABASE_URL = os.environ.get("EXPLAIN_DATABASE_URL", "")
# Settings review: the server's memory and CPUs when the console cannot read
# them (remote server, no pg_read_server_files), and PGTune's profile.
MONITORING_SERVER_RAM_MB = env_int("MONITORING_SERVER_RAM_MB", 0)
MONITORING_SERVER_CPUS = env_int("MONITORING_SERVER_CPUS", 0)
MONITORING_PGTUNE_DB_TYPE = os.environ.get("MONITORING_PGTUNE_DB_TYPE", "web")
MONITORING_PGTUNE_STORAGE = os.environ.get("MONITORING_PGTUNE_STORAGE", "ssd")
if MONITORING_PGTUNE_DB_TYPE not in ("web", "oltp", "dw", "desktop", "mixed"):
    raise ImproperlyConfigured("MONITORING_PGTUNE_DB_TYPE: web|oltp|dw|desktop|mixed")
if MONITORING_PGTUNE_STORAGE not in ("ssd", "hdd", "san"):
    raise ImproperlyConfigured("MONITORING_PGTUNE_STORAGE: ssd|hdd|san")

# -- alerts ----------------------------------------------------------------

# Who gets alert e-mail (comma-separated); none = no e-mail.
ALERT_EMAIL_RECIPIENTS = env_list("ALERT_EMAIL_RECIPIENTS")
ALERT_EMAIL_TIMEOUT_SECONDS = env_int("ALERT_EMAIL_TIMEOUT_SECONDS", 10)
# Optional JSON POST on every alert fired or resolved.
ALERT_WEBHOOK_URL = os.environ.get("ALERT_WEBHOOK_URL", "")
ALERT_WEBHOOK_TIMEOUT_SECONDS = env_int("ALERT_WEBHOOK_TIMEOUT_SECONDS", 5)
ALERT_WEBHOOK_RETRIES = env_int("ALERT_WEBHOOK_RETRIES", 2)
ALERT_WEBHOOK_BACKOFF_SECONDS = float(
    os.environ.get("ALERT_WEBHOOK_BACKOFF_SECONDS", "1")
)
# Base URL of the console, for links in notifications (e.g. https://ops.example.com).
ALERT_CONSOLE_URL = os.environ.get("ALERT_CONSOLE_URL", "")
# Business hours in TIME_ZONE: the view-staleness rule only judges them.
ALERT_BUSINESS_DAYS = [
    int(day) for day in env_list("ALERT_BUSINESS_DAYS", ["1", "2", "3", "4", "5"])
]
ALERT_BUSINESS_HOURS = (
    env_int("ALERT_BUSINESS_HOUR_START", 8),
    env_int("ALERT_BUSINESS_HOUR_END", 19),
)

# -- statistics history ------------------------------------------------------

# How often statistics are collected (seconds; the schedule runs in whole
# minutes), and how many days each level of the history is kept.
STATS_INTERVAL_SECONDS = env_int("STATS_INTERVAL_SECONDS", 60)
STATS_RETENTION_RAW_DAYS = env_int("STATS_RETENTION_RAW_DAYS", 2)
STATS_RETENTION_HOURLY_DAYS = env_int("STATS_RETENTION_HOURLY_DAYS", 90)
STATS_RETENTION_DAILY_DAYS = env_int("STATS_RETENTION_DAILY_DAYS", 730)
# Relation sizes cost more to read: at most this often (seconds).
STATS_SIZES_INTERVAL_SECONDS = env_int("STATS_SIZES_INTERVAL_SECONDS", 3600)

# -- maintenance -------------------------------------------------------------

# When the scheduler refreshes every materialized view, as a cron line read in
# TIME_ZONE (the seed: hourly in business hours).
MAINTENANCE_REFRESH_CRON = os.environ.get("MAINTENANCE_REFRESH_CRON", "0 8-18 * * 1-5")
# How often (minutes) the activity rollup behind get_organization_analytics
# is rebuilt; activity since the last rebuild is read raw, so this bounds the
# raw tail, not the freshness.
MAINTENANCE_ROLLUP_MINUTES = env_int("MAINTENANCE_ROLLUP_MINUTES", 15)
# When old refresh history is pruned (daily), and how many days are kept.
MAINTENANCE_PRUNE_CRON = os.environ.get("MAINTENANCE_PRUNE_CRON", "30 3 * * *")
MAINTENANCE_HISTORY_DAYS = env_int("MAINTENANCE_HISTORY_DAYS", 90)
# The materialized views the console refreshes (names as listed, or
# schema.name). Empty: the views owned by the console's role; the others are
# listed read-only, never refreshed or alerted on.
MAINTENANCE_MANAGED_VIEWS = env_list("MAINTENANCE_MANAGED_VIEWS")
# A refresh still queued after this many seconds while no task cluster is
# alive is marked failed, so it does not hold back "Refresh now".
MAINTENANCE_QUEUE_WAIT_SECONDS = env_int("MAINTENANCE_QUEUE_WAIT_SECONDS", 60)
# Limits of one REFRESH (milliseconds). The statement limit stays below the
# task cluster's timeout so a slow refresh is recorded as failed, not killed.
MAINTENANCE_REFRESH_STATEMENT_TIMEOUT_MS = env_int(
    "MAINTENANCE_REFRESH_STATEMENT_TIMEOUT_MS", 300_000
)
MAINTENANCE_REFRESH_LOCK_TIMEOUT_MS = env_int(
    "MAINTENANCE_REFRESH_LOCK_TIMEOUT_MS", 5000
)
if MAINTENANCE_REFRESH_STATEMENT_TIMEOUT_MS >= Q_CLUSTER["timeout"] * 1000:
    raise ImproperlyConfigured(
        "MAINTENANCE_REFRESH_STATEMENT_TIMEOUT_MS must stay below the task "
        f"timeout ({Q_CLUSTER['timeout']} s)"
    )

# -- analyzer ----------------------------------------------------------------

# Slow queries are MONITORING_SLOW_QUERY_MS / _CALLS, health thresholds
# HEALTH_THRESHOLDS; at most this many slow queries get an index suggestion.
ANALYZER_MAX_QUERIES = env_int("ANALYZER_MAX_QUERIES", 20)
# Check index suggestions by building each index in a rolled-back transaction.
# The build locks the table against writes, so only on a development database
# by default (the embedded one); `analyzedb --trial-indexes` asks for it.
ANALYZER_TRIAL_INDEXES = env_bool("ANALYZER_TRIAL_INDEXES", EMBEDDED_DATABASE)
ANALYZER_TRIAL_INDEX_TIMEOUT_MS = env_int("ANALYZER_TRIAL_INDEX_TIMEOUT_MS", 30000)

# -- health ------------------------------------------------------------------

# Health-check thresholds: any key of perfconsole.health.thresholds
# DEFAULT_THRESHOLDS (PgHero's defaults and the seed's values, TARGETS.md) can be
# overridden.
HEALTH_THRESHOLDS: dict[str, float] = {}
# Health checks and the analyzer judge the console's own and the framework's
# tables too (perfconsole.core.ownership); off, only the product's.
HEALTH_INCLUDE_CONSOLE_TABLES = env_bool("HEALTH_INCLUDE_CONSOLE_TABLES", False)
# Cancel / terminate on the live activity page; off removes them entirely.
ACTIVITY_ACTIONS_ENABLED = env_bool("ACTIVITY_ACTIONS_ENABLED", True)

# -- benchmarks --------------------------------------------------------------

# `benchmark --compare` holds ACCESS EXCLUSIVE locks while it drops indexes in
# a rolled-back transaction: without --force it runs only on the embedded
# server, or on a loopback / Unix-socket server whose database name matches.
BENCHMARK_DEVELOPMENT_NAMES = os.environ.get(
    "BENCHMARK_DEVELOPMENT_NAMES", r"dev|test|local|perfconsole"
)

# -- logging -----------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
