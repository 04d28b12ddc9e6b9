"""Bad input on every admin page: a clear 4xx, never a 500.

Every registered changelist (the console's, django-q2's, auth's) and every
custom page gets each of its filter parameters with hostile values, every
admin action gets malformed selections, and every change and detail page
gets malformed or unknown ids. A NUL byte in the query string or form data
is a 400 (PostgreSQL text cannot hold one); a NUL in the path is a 404.
"""

from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client, RequestFactory
from django.urls import NoReverseMatch, reverse

from perfconsole.alerts.models import Alert, AlertRule
from perfconsole.analyzer.models import AnalyzerReport
from perfconsole.benchmarks.models import BenchmarkRun
from perfconsole.collaboration.models import (
    Organization,
    OrganizationMember,
    ProductUser,
)
from perfconsole.core.admin import PageAdmin
from perfconsole.health.models import Activity
from perfconsole.history.collector import console_database
from perfconsole.maintenance.models import ViewRefresh
from perfconsole.monitoring.models import QueryStat

pytestmark = pytest.mark.django_db

NUL = "\x00"
NUL_VALUES = [NUL, f"x{NUL}y"]
VALUES = [
    "",
    "a" * 10_000,
    "abc",
    "-1",
    "99999999999999999999",
    "žluť ☃ 𝄞 <script>alert(1)</script>",
]
# Enough for parameters every changelist reads the same way (one each).
SHORT_VALUES = ["abc", "-1", "99999999999999999999"]
# Parameters the admin's changelist itself reads, besides the filters.
CHANGELIST_PARAMS = ["q", "p", "o", "e", "all", "_to_field", "_popup", "nope"]
# Crafted values of the changelist's own parameters.
CHANGELIST_QUERIES = [
    {"o": "999"},
    {"o": "1.x.-999"},
    {"p": "0"},
    {"q": "%_\\'\""},
    {"e": "1", "all": ""},
    {"_changelist_filters": "state__exact=x&p=abc"},
]
# Per list_filter field: lookups a crafted URL may try besides the filter's own.
FIELD_LOOKUPS = ["", "__in", "__gte"]
# What the console's pages without a filter form read.
PAGE_PARAMS = {AnalyzerReport: ["format"], Activity: ["console"]}
BAD_IDS = ["abc", "-1", "99999999999999999999", "žluť", "a" * 2000, NUL, f"1{NUL}"]
ACTION_SELECTIONS = [["abc"], [NUL], ["-1"], ["99999999999999999999"], ["1.5"], [""]]


def has_nul(value):
    return NUL in str(value)


class Failures:
    """Collect every unexpected answer, to report them all at once."""

    def __init__(self):
        self.found = []

    def check(self, response, method, url, data=None, expected=None):
        status = response.status_code
        wrong = status >= 500 or (expected is not None and status not in expected)
        if wrong:
            shown = {k: str(v)[:40] for k, v in (data or {}).items()}
            self.found.append(f"{status} {method} {url[:120]} {shown}")

    def report(self):
        return f"{len(self.found)} bad answer(s):\n" + "\n".join(self.found)


@pytest.fixture
def fuzz_client(superuser):
    client = Client(raise_request_exception=False)
    client.force_login(superuser)
    return client


@pytest.fixture
def objects(superuser):
    """Create one row per console model that has a page of its own."""
    rule = AlertRule.objects.create(
        name="fuzz", metric="dead_tuples", comparison=">", threshold=1
    )
    now = datetime(2026, 11, 1, tzinfo=UTC)
    alert = Alert.objects.create(
        rule=rule,
        database=console_database(),
        subject="t",
        value=2,
        state="firing",
        first_seen=now,
        last_seen=now,
    )
    runs = [
        BenchmarkRun.objects.create(
            started_at=now,
            scale="small",
            database="perfconsole",
            server_version="18.1",
            server_version_num=180001,
            iterations=5,
        )
        for _ in range(2)
    ]
    refresh = ViewRefresh.objects.create(
        view_name="team_productivity_analytics", trigger="user", status="succeeded"
    )
    user = ProductUser.objects.create(email="fuzz@example.test", full_name="F")
    organization = Organization.objects.create(name="Fuzz", slug="fuzz")
    return {
        AlertRule: rule,
        Alert: alert,
        BenchmarkRun: runs[0],
        ViewRefresh: refresh,
        ProductUser: user,
        Organization: organization,
        "runs": runs,
    }


def admin_url(model, action, *args):
    opts = model._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{action}", args=args)
    except NoReverseMatch:
        return None


def filter_params(model_admin, superuser):
    """Return the query parameters a changelist's filters read."""
    if isinstance(model_admin, PageAdmin):
        # These pages read only their own parameters (some are costly to
        # build: the analyzer's report, the health checks).
        form_class = getattr(model_admin, "filter_form_class", None)
        names = set(form_class.base_fields) if form_class else set()
        return sorted({"nope", *names, *PAGE_PARAMS.get(model_admin.model, [])})
    names = set(CHANGELIST_PARAMS)
    for entry in model_admin.list_filter:
        field = entry[0] if isinstance(entry, tuple | list) else entry
        if isinstance(field, str):
            names.update(f"{field}{lookup}" for lookup in FIELD_LOOKUPS)
    request = RequestFactory().get("/")
    request.user = superuser
    changelist = model_admin.get_changelist_instance(request)
    for spec in changelist.filter_specs:
        names.update(spec.expected_parameters())
    if model_admin.date_hierarchy:
        names.update(
            f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day")
        )
    return sorted(names)


def rotated(values, index, count):
    """Return `count` of the values, starting at `index` (wrapping round).

    Each parameter of a page gets a few values, the next parameter the next
    few: every value reaches every page with enough parameters, at a third of
    the requests of trying each value on each parameter.
    """
    return [values[(index * count + step) % len(values)] for step in range(count)]


def test_changelists_and_pages_survive_bad_query_strings(
    fuzz_client, superuser, objects
):
    failures = Failures()
    for model, model_admin in admin.site._registry.items():
        url = admin_url(model, "changelist")
        for index, name in enumerate(filter_params(model_admin, superuser)):
            for value in NUL_VALUES:
                data = {name: value}
                failures.check(fuzz_client.get(url, data), "GET", url, data, {400})
            if name in CHANGELIST_PARAMS:
                values = rotated(SHORT_VALUES, index, 1)
            else:
                values = rotated(VALUES, index, 2)
            for value in values:
                data = {name: value}
                failures.check(fuzz_client.get(url, data), "GET", url, data)
        for data in CHANGELIST_QUERIES:
            failures.check(fuzz_client.get(url, data), "GET", url, data)
        data = {f"x{NUL}": "1"}
        failures.check(fuzz_client.get(url, data), "GET", url, data, {400})
    assert not failures.found, failures.report()


def test_actions_survive_malformed_selections(fuzz_client, superuser, objects):
    failures = Failures()
    request = RequestFactory().get("/")
    request.user = superuser
    for model, model_admin in admin.site._registry.items():
        url = admin_url(model, "changelist")
        for action in model_admin.get_actions(request):
            for selection in ACTION_SELECTIONS:
                data = {"action": action, "index": "0", ACTION_CHECKBOX_NAME: selection}
                response = fuzz_client.post(url, data)
                expected = {400} if has_nul(selection) else {200, 302, 400}
                failures.check(response, "POST", url, data, expected)
            data = {"action": action, "select_across": "x", "index": "abc"}
            failures.check(fuzz_client.post(url, data), "POST", url, data)
    assert not failures.found, failures.report()


def test_change_and_detail_pages_survive_bad_ids(fuzz_client, objects):
    failures = Failures()
    for model in admin.site._registry:
        for action in ("change", "history", "delete"):
            for bad_id in BAD_IDS:
                url = admin_url(model, action, "0")
                if url is None:
                    continue
                url = url.replace("/0/", f"/{quote(bad_id)}/")
                # A NUL in the path names nothing.
                expected = {404} if has_nul(bad_id) else None
                failures.check(fuzz_client.get(url), "GET", url, None, expected)
    assert not failures.found, failures.report()


def object_pages(objects):
    """Return the change, detail and compare pages of real objects."""
    first, second = objects["runs"]
    pages = [
        admin_url(model, "change", obj.pk)
        for model, obj in objects.items()
        if model != "runs"
    ]
    pages += [
        reverse("admin:benchmarks_benchmarkrun_compare", args=[first.pk, second.pk]),
        reverse(
            "admin:maintenance_materializedview_change",
            args=["team_productivity_analytics"],
        ),
        reverse("admin:index"),
        reverse("admin:app_list", args=["alerts"]),
    ]
    statement = QueryStat.objects.first()
    if statement is not None:
        pages.append(admin_url(QueryStat, "change", statement.pk))
    return pages


def test_pages_of_real_objects_survive_bad_query_strings(fuzz_client, objects):
    failures = Failures()
    for url in object_pages(objects):
        failures.check(fuzz_client.get(url), "GET", url, None, {200})
        for value in NUL_VALUES:
            data = {"_changelist_filters": value}
            failures.check(fuzz_client.get(url, data), "GET", url, data, {400})
        for value in VALUES:
            for name in ("_changelist_filters", "_popup", "_to_field", "nope"):
                data = {name: value}
                failures.check(fuzz_client.get(url, data), "GET", url, data)
    assert not failures.found, failures.report()


# A valid add form per model, so that one bad field is the only error.
VALID_FORMS = {
    AlertRule: {
        "name": "fuzz rule",
        "metric": "dead_tuples",
        "comparison": ">",
        "threshold": "10",
        "severity": "warning",
        "min_rows": "0",
        "cooldown_minutes": "60",
        "enabled": "on",
    },
    Organization: {"name": "Form", "slug": "form"},
    ProductUser: {"email": "form@example.test", "full_name": "Form"},
}
FORM_VALUES = [*VALUES, "1.5", "inf", "nan", "1e309"]


def test_add_forms_survive_bad_field_values(fuzz_client, superuser):
    failures = Failures()
    request = RequestFactory().get("/")
    request.user = superuser
    for model, model_admin in admin.site._registry.items():
        url = admin_url(model, "add")
        if url is None or not model_admin.has_add_permission(request):
            continue
        valid = VALID_FORMS.get(model, {})
        for index, name in enumerate(model_admin.get_form(request).base_fields):
            for value in rotated(FORM_VALUES, index, 4):
                data = {**valid, name: value}
                failures.check(fuzz_client.post(url, data), "POST", url, data)
            data = {**valid, name: NUL}
            failures.check(fuzz_client.post(url, data), "POST", url, data, {400})
    assert not failures.found, failures.report()


CONSOLE_DETAIL_PAGES = [
    "admin:monitoring_querystat_change",
    "admin:monitoring_slowquery_change",
    "admin:maintenance_materializedview_change",
    "admin:benchmarks_benchmarkrun_change",
]


@pytest.mark.parametrize("name", CONSOLE_DETAIL_PAGES)
@pytest.mark.parametrize("bad_id", ["abc", "99999999999999999999", "-1", NUL])
def test_console_detail_pages_answer_404_for_unknown_ids(fuzz_client, name, bad_id):
    url = reverse(name, args=["0"]).replace("/0/", f"/{quote(bad_id)}/")
    assert fuzz_client.get(url).status_code == 404


def test_a_nul_byte_gets_a_page_saying_what_is_wrong(fuzz_client):
    url = reverse("admin:monitoring_querystat_changelist")

    response = fuzz_client.get(url, {"user": f"a{NUL}b"})

    assert response.status_code == 400
    assert "The query string contains a NUL byte (%00)" in response.text
    assert 'class="errornote"' in response.text


def test_a_malformed_selection_gets_a_page_saying_what_is_wrong(fuzz_client):
    url = admin_url(Alert, "changelist")
    data = {"action": "acknowledge_alerts", ACTION_CHECKBOX_NAME: ["abc"]}

    response = fuzz_client.post(url, data)

    assert response.status_code == 400
    assert "The selected rows (abc) are not ids of alerts" in response.text


def test_compare_page_of_unknown_runs(fuzz_client, objects):
    first, second = objects["runs"]
    for args in ([first.pk, 999999999], [999999999, second.pk]):
        url = reverse("admin:benchmarks_benchmarkrun_compare", args=args)
        assert fuzz_client.get(url).status_code == 404
    url = reverse("admin:benchmarks_benchmarkrun_compare", args=[first.pk, second.pk])
    assert fuzz_client.get(url, {"x": NUL}).status_code == 400


def test_forms_with_a_nul_byte_are_refused(fuzz_client, objects):
    failures = Failures()
    posts = [
        (admin_url(AlertRule, "add"), {"name": f"x{NUL}", "metric": "dead_tuples"}),
        (admin_url(AlertRule, "change", objects[AlertRule].pk), {"name": NUL}),
        (reverse("admin:health_activity_signal"), {"pid": NUL, "action": "cancel"}),
        (
            reverse(
                "admin:maintenance_materializedview_refresh",
                args=["team_productivity_analytics"],
            ),
            {"x": NUL},
        ),
        (reverse("admin:login"), {"username": NUL, "password": "x"}),
    ]
    for url, data in posts:
        failures.check(fuzz_client.post(url, data), "POST", url, data, {400})
    url = reverse("admin:autocomplete")
    data = {
        "term": NUL,
        "app_label": "collaboration",
        "model_name": "organizationmember",
        "field_name": "user",
    }
    failures.check(fuzz_client.get(url, data), "GET", url, data, {400})
    assert not failures.found, failures.report()


def test_custom_posts_survive_garbage(fuzz_client, objects):
    failures = Failures()
    url = reverse("admin:health_activity_signal")
    for value in VALUES:
        for data in ({"pid": value, "action": "cancel"}, {"pid": 1, "action": value}):
            failures.check(fuzz_client.post(url, data), "POST", url, data, {400})
    for bad_id in BAD_IDS[:-2]:
        url = reverse("admin:maintenance_materializedview_refresh", args=[bad_id])
        failures.check(fuzz_client.post(url), "POST", url, None, {404})
    assert not failures.found, failures.report()


def test_a_malformed_autocomplete_id_is_a_form_error(fuzz_client, objects):
    organization = objects[Organization]
    url = admin_url(OrganizationMember, "add")
    data = {"organization": organization.pk, "user": "abc", "role": "member"}

    response = fuzz_client.post(url, data)

    assert response.status_code == 200
    assert "“abc” is not a valid UUID." in response.text
    assert not OrganizationMember.objects.exists()
