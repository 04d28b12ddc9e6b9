"""The test session's entry point, loaded before the settings (`-p tests.session`).

pyproject.toml loads it ahead of pytest-django, which reads the settings.
Like manage.py and config/wsgi.py for their processes, it names the kind of
process, starts the embedded PostgreSQL (unless DATABASE_URL is set) before
any test database is created, and stops it at the end if it started it.
"""

import os

import pytest

os.environ.setdefault("PERFCONSOLE_PROCESS", "test")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Start the embedded server before pytest-django sets up the database."""
    if config.getoption("help") or config.getoption("collectonly"):
        return
    from perfconsole.embedded import start_if_embedded

    start_if_embedded()


def pytest_unconfigure(config):
    """Stop the embedded server if this session started it."""
    from perfconsole.embedded import stop_if_started_here

    stop_if_started_here()
