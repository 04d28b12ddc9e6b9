"""Content-Security-Policy on every page, and the proxy header only behind a proxy."""

import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib import admin
from django.db import connection
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent

POLICY = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
}


def _directives(response):
    return {part.strip() for part in response["Content-Security-Policy"].split(";")}


@pytest.mark.django_db
def test_the_login_page_sends_the_policy(client):
    response = client.get("/admin/login/")

    assert response.status_code == 200
    assert _directives(response) == POLICY


class InlineCode(HTMLParser):
    """Collect what a strict policy would block: inline scripts and styles."""

    def __init__(self):
        super().__init__()
        self.found = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name == "style":
                self.found.append(f"<{tag} style={value!r}>")
            if name in ("href", "src", "action") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")
        # A JSON data block is never run, so the policy does not apply to it.
        if tag == "script" and not attrs.get("src"):
            if attrs.get("type") != "application/json":
                self._in = "script"
        if tag == "style":
            self._in = "style"

    def handle_data(self, data):
        if self._in and data.strip():
            self.found.append(f"inline <{self._in}>: {data.strip()[:60]}")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._in = None


def _inline_code(html):
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def _console_pages():
    """Return the admin index, every model's list and add page, and detail pages."""
    from perfconsole.monitoring.models import QueryStat

    urls = [
        "/admin/",
        "/admin/password_change/",
        reverse(
            "admin:maintenance_materializedview_change",
            args=["team_productivity_analytics"],
        ),
    ]
    statement = QueryStat.objects.order_by("-calls").first()
    urls.append(reverse("admin:monitoring_querystat_change", args=[statement.pk]))
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        if model_admin.has_add_permission(_SuperuserRequest):
            urls.append(reverse("admin:{}_{}_add".format(*info)))
    return urls


class _SuperuserRequest:
    """Just enough of a request for has_add_permission."""

    class user:
        is_active = is_staff = is_superuser = True

        @staticmethod
        def has_perm(perm, obj=None):
            return True


@pytest.mark.django_db
def test_no_console_page_has_inline_scripts_styles_or_handlers(admin_client):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'a statement for the query page'")
    checked = []
    for url in _console_pages():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert _directives(response) == POLICY, url
        found = _inline_code(response.content.decode())
        assert not found, f"{url}: {found}"
        checked.append(url)
    # The console's own pages are among them, not only Django's.
    assert "/admin/health/activity/" in checked
    assert "/admin/monitoring/querystat/" in checked
    assert len([url for url in checked if "/querystat/" in url]) == 2
    assert [url for url in checked if "/materializedview/team_" in url]


def test_the_checker_finds_inline_code():
    html = (
        '<script>alert(1)</script><script src="/s.js"></script>'
        '<script type="application/json">{"a": 1}</script>'
        '<a onclick="x()" href="javascript:y()">a</a><p style="color:red">p</p>'
        "<style>p {}</style>"
    )
    assert len(_inline_code(html)) == 5


@pytest.mark.django_db
def test_the_standalone_report_may_style_itself_inline_only(admin_client):
    response = admin_client.get("/admin/analyzer/analyzerreport/?format=html")

    assert response.status_code == 200
    directives = _directives(response)
    assert "style-src 'self' 'unsafe-inline'" in directives
    assert "script-src 'self'" in directives
    assert not [
        found
        for found in _inline_code(response.content.decode())
        if "style" not in found
    ]


# -- X-Forwarded-Proto ---------------------------------------------------------

PROBE = """
from django.conf import settings
from django.http import HttpResponse
from django.middleware.security import SecurityMiddleware
from django.test import RequestFactory

request = RequestFactory().get("/admin/", HTTP_X_FORWARDED_PROTO="https")
response = SecurityMiddleware(lambda request: HttpResponse("ok"))(request)
print(request.is_secure(), response.status_code, settings.SECURE_SSL_REDIRECT)
"""


def _forged_https_request(**env):
    """Send a plain-HTTP request claiming HTTPS through production settings."""
    base = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DEBUG", "BEHIND_PROXY", "SECURE_SSL_REDIRECT")
    }
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{PROBE}"],
        cwd=ROOT,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PERFCONSOLE_PROCESS": "web",
            "SECRET_KEY": "s" * 60,
            "ALLOWED_HOSTS": "testserver",
            # No database is involved: the request stops at the middleware.
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            **env,
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_a_forged_proxy_header_is_ignored_without_a_proxy():
    is_secure, status, redirect = _forged_https_request()

    assert redirect == "True"
    assert is_secure == "False"
    assert status == "301"


def test_the_proxy_header_is_trusted_when_a_proxy_is_declared():
    is_secure, status, _ = _forged_https_request(BEHIND_PROXY="1")

    assert is_secure == "True"
    assert status == "200"
