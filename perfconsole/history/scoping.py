"""The monitored database a page shows: chosen by the switcher, kept in the session.

A DBA picks a target once (the switch page linked from every page's header,
or `?target=<id>` on any admin address) and every monitoring page then shows
that target until another is picked. The header names the target from the
session alone: it adds no query to any page. `request_scope(request)` is
the one way a page learns which database it shows and the connection alias
that reaches it; without a choice it is the console's own database.

The parameter is `target`, not `database`: the activity page's filter
`database` already names a database of the server (pg_stat_activity.datname).
"""

from __future__ import annotations

from functools import cached_property

from django.contrib import admin, messages
from django.db import DEFAULT_DB_ALIAS
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from perfconsole.core.db import StatisticsUnavailable
from perfconsole.core.middleware import bad_request
from perfconsole.core.pages import admin_page_context, render_admin_page

from .collector import console_database
from .connections import PasswordMissing, connection_alias
from .models import MonitoredDatabase

PARAMETER = "target"
SESSION_KEY = "perfconsole_target"
# The chosen target's name, for the header (no query on every page).
NAME_KEY = "perfconsole_target_name"
OTHER_KEY = "perfconsole_target_is_other"
SWITCH_TEMPLATE = "admin/history/switch_target.html"
# A primary key PostgreSQL's bigint can hold has at most 19 digits.
MAX_DIGITS = 18


class BadTarget(Exception):
    """The requested target is junk, unknown or disabled; the message says which."""


class Scope:
    """The database a request shows, and how to reach it.

    Built without a target (None) it is the console's own database, and
    nothing is read to say so: its MonitoredDatabase row is read only when
    a page needs it (the history's rows).
    """

    def __init__(self, target: MonitoredDatabase | None = None) -> None:
        self.target = target

    @cached_property
    def database(self) -> MonitoredDatabase:
        """Return the MonitoredDatabase shown (read once for the console's own)."""
        return self.target or console_database()

    @property
    def is_console(self) -> bool:
        return self.target is None or self.target.is_console_database

    @property
    def name(self) -> str:
        return self.database.name

    @cached_property
    def alias(self) -> str:
        """Return the Django alias of the target.

        A missing password variable is the target being unreachable: it
        comes out as StatisticsUnavailable, like a server that is down.
        """
        if self.is_console:
            return DEFAULT_DB_ALIAS
        try:
            return connection_alias(self.database)
        except PasswordMissing as missing:
            raise StatisticsUnavailable(str(missing)) from None

    @property
    def other_target(self) -> MonitoredDatabase | None:
        """Return the target when it is not the console's own database, else None."""
        return None if self.is_console else self.target

    def unavailable(self, error: Exception) -> str:
        """Say that the target cannot be read, and why."""
        if self.is_console:
            return str(error)
        return f"{self.name} is down: {error}"


def parse_target(value: str) -> MonitoredDatabase:
    """Return the enabled monitored database a submitted id names, else BadTarget."""
    if not value.isascii() or not value.isdigit() or len(value) > MAX_DIGITS:
        raise BadTarget(
            f"{PARAMETER} must be the number of a monitored database; choose one "
            "in the switcher at the top of the page."
        )
    database = MonitoredDatabase.objects.filter(pk=int(value)).first()
    if database is None:
        raise BadTarget(f"no monitored database has the number {int(value)}.")
    if not database.enabled:
        raise BadTarget(
            f"the monitored database {database.name} is disabled; enable it "
            "in the admin to look at it."
        )
    return database


def current_database(request: HttpRequest) -> MonitoredDatabase | None:
    """Return the enabled target kept in the session, or None (without a message)."""
    pk = request.session.get(SESSION_KEY)
    if not isinstance(pk, int):
        return None
    return MonitoredDatabase.objects.filter(pk=pk, enabled=True).first()


def chosen_target(request: HttpRequest) -> MonitoredDatabase | None:
    """Return the target kept in the session, None for the console's own database.

    Nothing is read when none was chosen. A target removed or disabled
    since it was chosen falls back to the console's own database, with a
    message saying so.
    """
    if SESSION_KEY not in request.session:
        return None
    database = current_database(request)
    if database is not None:
        if request.session.get(NAME_KEY) != database.name:
            keep(request, database)
        return database
    for key in (SESSION_KEY, NAME_KEY, OTHER_KEY):
        request.session.pop(key, None)
    messages.warning(
        request,
        "The monitored database chosen before was removed or disabled: "
        "showing the console's own database.",
    )
    return None


def chosen_database(request: HttpRequest) -> MonitoredDatabase:
    """Return the MonitoredDatabase the pages show (the console's own by default)."""
    return request_scope(request).database


def request_scope(request: HttpRequest) -> Scope:
    """Return the Scope of the database this request's page shows."""
    return Scope(chosen_target(request))


def is_staff(request: HttpRequest) -> bool:
    """Return True for a signed-in, active staff user (who may choose a target)."""
    user = getattr(request, "user", None)
    return bool(user and user.is_active and user.is_staff)


class TargetMiddleware:
    """Keep a `?target=<id>` choice in the session; answer a bad one with a 400.

    A page asked for with the parameter redirects to itself without it.

    After the session, authentication and messages middleware. Only signed-in
    staff choose a target; for others the parameter is ignored (the admin
    sends them to the login page anyway).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        value = request.GET.get(PARAMETER)
        if value is None or not is_staff(request):
            return self.get_response(request)
        try:
            keep(request, parse_target(value))
        except BadTarget as bad:
            return bad_request(str(bad))
        if request.method in ("GET", "HEAD"):
            # The choice is kept: the page itself comes without the parameter,
            # which an admin list would take for a filter it does not know.
            return HttpResponseRedirect(address_without_target(request))
        response = self.get_response(request)
        if response.status_code >= 500:
            # The session middleware saves nothing on a 5xx; a target that is
            # down answers 503 and must stay chosen for the next page.
            request.session.save()
        return response


def keep(request: HttpRequest, database: MonitoredDatabase) -> None:
    """Keep the target in the session, for every page after this one."""
    request.session[SESSION_KEY] = database.pk
    request.session[NAME_KEY] = database.name
    request.session[OTHER_KEY] = not database.is_console_database


def shows_console(request: HttpRequest) -> bool:
    """Return True if the pages show the console's own database (session only)."""
    return not request.session.get(OTHER_KEY, False)


@require_http_methods(["GET", "POST"])
def switch_target(request: HttpRequest) -> HttpResponse:
    """List the targets to choose from (GET); keep the posted one (POST).

    After a switch, go back to the page the switch came from.
    """
    if request.method == "GET":
        return switch_page(request)
    try:
        database = parse_target(request.POST.get(PARAMETER, ""))
    except BadTarget as bad:
        return bad_request(str(bad))
    keep(request, database)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("admin:index")
    return HttpResponseRedirect(back)


switch_target_view = admin.site.admin_view(switch_target)


def switch_page(request: HttpRequest) -> HttpResponse:
    """Render the enabled targets, the one shown selected, and a Switch button."""
    targets = MonitoredDatabase.objects.filter(enabled=True).order_by(
        "-is_console_database", "name"
    )
    back = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = ""
    context = admin_page_context(
        None,
        request,
        "Choose the monitored database",
        targets=targets,
        current=chosen_database(request),
        parameter=PARAMETER,
        next=back,
    )
    return render_admin_page(request, SWITCH_TEMPLATE, context)


def switcher_context(request: HttpRequest | None) -> dict:
    """Return the header's target name and switch link, for staff only.

    From the session alone: no query on any page, so a page that reads
    nothing (a form's 400, the 503 of a database that is down) still does not.
    """
    if request is None or not is_staff(request) or not hasattr(request, "session"):
        return {}
    return {
        "name": request.session.get(NAME_KEY) or "the console's own database",
        "next": address_without_target(request),
    }


def address_without_target(request: HttpRequest) -> str:
    """Return the page's address without ?target=, which would undo a switch."""
    query = request.GET.copy()
    query.pop(PARAMETER, None)
    return f"{request.path}?{query.urlencode()}" if query else request.path
