"""Settings come from the environment, with clear errors for bad values."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

import manage
from config.env import database_from_url, env_bool, process_kind

ROOT = Path(__file__).resolve().parent.parent


def test_database_url_is_parsed_with_application_name_and_pool():
    config = database_from_url(
        "postgresql://app:s3cret@db.example:6543/perf?sslmode=require",
        kind="web",
        pool={"min_size": 2, "max_size": 20},
        connect_timeout=7,
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"]) == ("app", "s3cret")
    assert (config["HOST"], config["PORT"], config["NAME"]) == (
        "db.example",
        6543,
        "perf",
    )
    assert config["OPTIONS"]["sslmode"] == "require"
    assert config["OPTIONS"]["application_name"] == "perfconsole-web"
    assert config["OPTIONS"]["connect_timeout"] == 7
    assert config["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 20}
    assert config["CONN_MAX_AGE"] == 0


@pytest.mark.parametrize(
    "url, message",
    [
        ("mysql://u:p@h/db", "needs PostgreSQL"),
        ("not a url", "is not a URL"),
        ("", "is not a URL"),
        ("postgresql://u:p@host:5432", "names no database"),
    ],
)
def test_bad_database_url_says_what_is_wrong(url, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        database_from_url(url, kind="web")


def test_boolean_flags_reject_nonsense(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="not a boolean"):
        env_bool("DEBUG")
    monkeypatch.setenv("DEBUG", "on")
    assert env_bool("DEBUG") is True


def test_process_kind_is_what_the_entry_point_names(monkeypatch):
    monkeypatch.setenv("PERFCONSOLE_PROCESS", "qcluster")
    assert process_kind() == "qcluster"
    monkeypatch.delenv("PERFCONSOLE_PROCESS")
    assert process_kind() == "command"
    monkeypatch.setenv("PERFCONSOLE_PROCESS", "worker")
    with pytest.raises(ImproperlyConfigured, match="use one of web, qcluster"):
        process_kind()


def test_manage_py_names_the_kind_of_its_command():
    assert manage.process_kind(["manage.py", "runserver"]) == "web"
    assert manage.process_kind(["manage.py", "qcluster"]) == "qcluster"
    assert manage.process_kind(["manage.py", "migrate"]) == "command"
    assert manage.process_kind(["manage.py"]) == "command"


def test_the_test_session_names_its_kind():
    assert settings.PROCESS_KIND == "test"


def _import_settings(**env):
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import config.settings as s;"
            " print(s.DATABASES['default']['OPTIONS']['application_name'])",
        ],
        cwd=ROOT,
        env={**base, "PERFCONSOLE_PROCESS": "web", **env},
        capture_output=True,
        text=True,
    )


def test_missing_secret_key_with_debug_off_is_a_clear_error():
    result = _import_settings(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_settings_load_with_a_secret_key():
    result = _import_settings(DEBUG="0", SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "perfconsole-web"


def test_bad_database_url_stops_settings_with_its_message():
    result = _import_settings(DEBUG="1", DATABASE_URL="mysql://u@h/db")
    assert result.returncode != 0
    assert "needs PostgreSQL" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": "k" * 20
            + "-production-like-secret-key-with-entropy-0123456789",
            "ALLOWED_HOSTS": "console.example.com",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_task_workers_keep_their_connection_between_polls():
    # django-q2 closes "old" connections before each poll: with no age a
    # worker opened a new backend about every second.
    script = (
        "import config.settings as s; print(s.DATABASES['default']['CONN_MAX_AGE'])"
    )
    ages = {
        kind: subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "DEBUG": "1", "PERFCONSOLE_PROCESS": kind},
            capture_output=True,
            text=True,
        ).stdout.strip()
        for kind in ("qcluster", "web")
    }
    assert ages == {"qcluster": "60", "web": "0"}
