"""The collaboration changelists run bounded, indexed SQL on demo data.

Each case requests a changelist as a user would and captures the SQL it
runs: every statement on a collaboration table has a LIMIT, and the plan of
the statement that fetches the page's rows (EXPLAIN on the loaded, ANALYZE'd
data) reads its table through an index, with no Seq Scan on a big table.
Plans are checked, never timings: BENCHMARKS.md times the same cases at
`large`. The data is loaded once for this module and removed afterwards.
"""

import io
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from perfconsole.collaboration.admin import (
    MAX_PAGES,
    BoundedPaginator,
    plan_estimate,
)
from perfconsole.collaboration.demo import SCALES, load_demo
from perfconsole.collaboration.models import COLLABORATION_TABLES, StudyCollaborator

from .conftest import run_sql

pytestmark = pytest.mark.django_db

# Tables whose full scan is the slow request this guards against.
BIG_TABLES = {
    "users",
    "organization_members",
    "studies",
    "study_collaborators",
    "collaboration_activity",
}
TABLES = {
    "productuser": "users",
    "organization": "organizations",
    "organizationmember": "organization_members",
    "study": "studies",
    "studycollaborator": "study_collaborators",
    "collaborationactivity": "collaboration_activity",
    "teamproductivityanalytics": "team_productivity_analytics",
}
INDEX_SCANS = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}


@pytest.fixture(scope="module", autouse=True)
def demo_data(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        load_demo(SCALES["medium"], seed=11)
        yield
        run_sql(f"TRUNCATE {', '.join(COLLABORATION_TABLES)}")
        run_sql("REFRESH MATERIALIZED VIEW team_productivity_analytics")


@pytest.fixture(scope="module")
def worst(demo_data, django_db_blocker):
    """Return the heaviest user, organization and study of the data."""
    with django_db_blocker.unblock():
        [(user, email)] = run_sql(
            "SELECT u.id, u.email FROM study_collaborators c"
            " JOIN users u ON u.id = c.user_id GROUP BY u.id"
            " ORDER BY count(*) DESC, u.id LIMIT 1"
        )
        [(organization, slug)] = run_sql(
            "SELECT o.id, o.slug FROM organization_members m"
            " JOIN organizations o ON o.id = m.organization_id GROUP BY o.id"
            " ORDER BY count(*) DESC, o.id LIMIT 1"
        )
        [(study,)] = run_sql(
            "SELECT study_id FROM collaboration_activity GROUP BY study_id"
            " ORDER BY count(*) DESC, study_id LIMIT 1"
        )
        [(activity,)] = run_sql("SELECT id FROM collaboration_activity LIMIT 1")
    return {
        "user": str(user),
        "email": email,
        "organization": str(organization),
        "slug": slug,
        "study": str(study),
        "activity": str(activity),
    }


PAGES = [
    ("first page", {}),
    ("page 2", {"p": "2"}),
    ("deepest page", {"p": str(MAX_PAGES)}),
]
CASES = {
    "productuser": [
        ("sorted by e-mail", {"o": "-0"}),
        ("search: e-mail", {"q": "{email}"}),
        ("search: id", {"q": "{user}"}),
    ],
    "organization": [
        ("sorted by slug", {"o": "-1"}),
        ("search: slug", {"q": "{slug}"}),
        ("search: id", {"q": "{organization}"}),
    ],
    "organizationmember": [
        ("filter: role", {"role__exact": "owner"}),
        ("search: e-mail", {"q": "{email}"}),
        ("search: organization id", {"q": "{organization}"}),
        ("search: user id", {"q": "{user}"}),
    ],
    "study": [
        ("sorted by date", {"o": "-3"}),
        ("sorted by date, oldest first", {"o": "3"}),
        ("filter: status", {"status__exact": "archived"}),
        ("search: title", {"q": "sleep"}),
        ("search: organization id", {"q": "{organization}"}),
        ("search: id", {"q": "{study}"}),
    ],
    "studycollaborator": [
        ("filter: role", {"role__exact": "owner"}),
        ("search: e-mail", {"q": "{email}"}),
        ("search: user id", {"q": "{user}"}),
        ("search: study id", {"q": "{study}"}),
    ],
    "collaborationactivity": [
        ("sorted by date, oldest first", {"o": "0"}),
        ("filter: common type", {"activity_type__exact": "comment_added"}),
        ("filter: rare type", {"activity_type__exact": "study_created"}),
        ("search: study id", {"q": "{study}"}),
        ("search: user id", {"q": "{user}"}),
        ("search: id", {"q": "{activity}"}),
    ],
    "teamproductivityanalytics": [
        ("sorted by members", {"o": "-1"}),
        ("search: organization id", {"q": "{organization}"}),
    ],
}
# Words of a title: no btree index serves a substring, and studies are the
# one mid-sized table (about 10 per organization); the scan is still LIMITed.
SCANS_ALLOWED = {("study", "search: title"): {"studies"}}
ALL_CASES = [
    pytest.param(
        name, query, SCANS_ALLOWED.get((name, what), set()), id=f"{name}-{what}"
    )
    for name, extra in CASES.items()
    for what, query in PAGES + extra
]


def changelist(name):
    return reverse(f"admin:collaboration_{name}_changelist")


def plan_nodes(statement):
    """Return every node of the statement's plan (EXPLAIN, not run)."""
    [[plan]] = run_sql(f"EXPLAIN (FORMAT JSON) {statement}")
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes, stack = [], [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    return nodes


def reads_collaboration_tables(statement):
    """Return True if the statement reads rows of a collaboration table.

    EXPLAIN (the planner's estimate of a long list) plans and reads none.
    """
    if "EXPLAIN" in statement.split("(", 1)[0]:
        return False
    return any(f'"{table}"' in statement for table in TABLES.values())


def captured_sql(admin_client, name, query):
    """Request the changelist; return its response and its statements."""
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(changelist(name), query)
    return response, [entry["sql"] for entry in captured.captured_queries]


def row_query(statements, name):
    """Return the one statement that fetches the page's rows."""
    table = TABLES[name]
    rows = [
        statement
        for statement in statements
        if re.search(rf'FROM "{table}"', statement) and "ORDER BY" in statement
    ]
    assert len(rows) == 1, statements
    return rows[0]


def assert_bounded_and_indexed(statements, name, scans_allowed=frozenset()):
    for statement in statements:
        if reads_collaboration_tables(statement):
            assert " LIMIT " in statement, statement
    statement = row_query(statements, name)
    nodes = plan_nodes(statement)
    scanned = [
        (node["Node Type"], node.get("Relation Name"), node.get("Index Name"))
        for node in nodes
    ]
    big = BIG_TABLES - scans_allowed
    assert not [node for node in scanned if node[0] == "Seq Scan" and node[1] in big], (
        statement,
        scanned,
    )
    if TABLES[name] in big | {"organizations"}:
        indexed = {
            node.get("Relation Name") or index_table(node["Index Name"])
            for node in nodes
            if node["Node Type"] in INDEX_SCANS
        }
        assert TABLES[name] in indexed, (statement, scanned)


def index_table(index):
    [(table,)] = run_sql(
        "SELECT indrelid::regclass::text FROM pg_index"
        " WHERE indexrelid = to_regclass(%s)",
        [index],
    )
    return table


def filled(query, worst):
    return {key: value.format(**worst) for key, value in query.items()}


# Searches and filters that one index serves in the list's order (an OR of
# columns, or a filter walking the date index, would not).
SERVED_BY = [
    ("collaborationactivity", {"q": "{study}"}, "idx_collaboration_activity_timeline"),
    (
        "collaborationactivity",
        {"activity_type__exact": "study_created"},
        "collaboration_activity_type",
    ),
    (
        "organizationmember",
        {"q": "{organization}"},
        "organization_members_by_role",
    ),
    ("study", {"q": "{organization}"}, "idx_studies_organization_lookup"),
]


@pytest.mark.parametrize("name, query, index", SERVED_BY)
def test_a_search_reads_the_one_index_that_serves_it(
    admin_client, worst, name, query, index
):
    response, statements = captured_sql(admin_client, name, filled(query, worst))
    assert response.status_code == 200
    nodes = plan_nodes(row_query(statements, name))
    assert index in [node.get("Index Name") for node in nodes], nodes
    assert "BitmapOr" not in [node["Node Type"] for node in nodes]


@pytest.mark.parametrize("name, query, scans_allowed", ALL_CASES)
def test_every_changelist_case_is_bounded_and_indexed(
    admin_client, worst, name, query, scans_allowed
):
    response, statements = captured_sql(admin_client, name, filled(query, worst))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) <= 50
    assert_bounded_and_indexed(statements, name, scans_allowed)


def test_a_search_far_above_the_estimate_renders_one_page(admin_client, worst):
    # A new user joins 900 studies after ANALYZE: the planner still expects
    # a handful of rows (the 3 for 4 543), the list must not believe it.
    run_sql(
        "INSERT INTO users (id, email, full_name, created_at)"
        " VALUES (gen_random_uuid(), 'busy@scale.test', 'Busy', now())"
    )
    run_sql(
        "INSERT INTO study_collaborators"
        " (id, study_id, user_id, role, permissions, added_at)"
        " SELECT gen_random_uuid(), s.id, u.id, 'viewer', '{}', now()"
        " FROM (SELECT id FROM studies ORDER BY id LIMIT 900) s,"
        " users u WHERE u.email = 'busy@scale.test'"
    )
    busy = StudyCollaborator.objects.filter(user__email="busy@scale.test")
    assert plan_estimate(busy) < 90
    response, statements = captured_sql(
        admin_client, "studycollaborator", {"q": "busy@scale.test"}
    )
    assert response.status_code == 200
    cl = response.context["cl"]
    assert len(cl.result_list) == 50
    assert cl.result_count == 900 and cl.multi_page
    assert_bounded_and_indexed(statements, "studycollaborator")
    assert b"900 study collaborators" in response.content
    # Page 18 is the last, with the last 50 of the 900 rows.
    response = admin_client.get(
        changelist("studycollaborator"), {"q": "busy@scale.test", "p": "18"}
    )
    assert len(response.context["cl"].result_list) == 50


def test_a_list_longer_than_its_pages_says_more_than(admin_client, monkeypatch):
    monkeypatch.setattr(BoundedPaginator, "max_pages", 4)
    response, statements = captured_sql(admin_client, "collaborationactivity", {})
    cl = response.context["cl"]
    assert cl.paginator.has_more and cl.result_count == 200
    body = response.content.decode()
    # The planner's estimate of the whole table, and the way to narrow it.
    assert "More than 200 collaboration activity (about " in body
    assert "a filter or a search narrows it" in body
    counts = [s for s in statements if "COUNT(*) FROM (SELECT" in s]
    assert counts and all("LIMIT 201" in s for s in counts), counts


@pytest.mark.parametrize("name", list(TABLES))
def test_no_request_renders_more_than_one_page(admin_client, name):
    for query in [{"all": ""}, {"all": "", "p": "2"}, {"_facets": "1"}]:
        response, statements = captured_sql(admin_client, name, query)
        assert response.status_code == 200
        assert len(response.context["cl"].result_list) <= 50
        for statement in statements:
            if reads_collaboration_tables(statement):
                assert " LIMIT " in statement, statement
        # No facet counts over the whole table.
        assert not [s for s in statements if "FILTER (WHERE" in s], statements


def test_a_page_past_the_bound_says_why(admin_client):
    response = admin_client.get(
        changelist("collaborationactivity"), {"p": str(MAX_PAGES + 1)}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert f"first {MAX_PAGES} pages" in body
    assert "Narrow the list with a filter or a search" in body


@pytest.mark.parametrize(
    "query",
    [{"p": "abc"}, {"p": "-1"}, {"p": "0"}, {"p": "9" * 5000}, {"o": "zz.-9.7"}],
)
def test_bad_paging_and_sorting_input_is_no_server_error(admin_client, query):
    for name in TABLES:
        response = admin_client.get(changelist(name), query)
        assert response.status_code in (200, 302, 400), (name, query)


def test_a_nul_byte_in_a_search_is_a_bad_request(admin_client):
    response = admin_client.get(changelist("studycollaborator"), {"q": "a\x00b"})
    assert response.status_code == 400


@pytest.mark.django_db
def test_benchadmin_times_every_case_of_a_changelist_on_one_page(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]  # the host its client names
    out = io.StringIO()
    call_command("benchadmin", runs=1, only="studycollaborator", stdout=out)

    rows = [line.split("|")[1:-1] for line in out.getvalue().splitlines()[2:]]
    assert len(rows) >= 5  # pages, sorts, filters, searches
    for name, what, status, shown, *_rest in rows:
        assert name.strip() == "studycollaborator"
        assert status.strip() == "200", what
        assert 1 <= int(shown) <= 50, what
    # Its temporary superuser is gone with its session.
    assert not get_user_model().objects.filter(username__startswith="benchadmin-")
