"""WSGI entry point: `gunicorn config.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

from perfconsole.embedded import start_if_embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("PERFCONSOLE_PROCESS", "web")
# Without DATABASE_URL (development only) the embedded server must be up.
start_if_embedded()

application = get_wsgi_application()
