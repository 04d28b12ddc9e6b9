"""The collaboration admin: every changelist renders, searches, without N+1."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from perfconsole.collaboration.admin import MAX_PAGES, BoundedPaginator
from perfconsole.collaboration.demo import SCALES, load_demo
from perfconsole.collaboration.models import CollaborationActivity

from .conftest import run_sql

pytestmark = pytest.mark.django_db

MODELS = [
    "productuser",
    "organization",
    "organizationmember",
    "study",
    "studycollaborator",
    "collaborationactivity",
    "teamproductivityanalytics",
]


def changelist(name):
    return reverse(f"admin:collaboration_{name}_changelist")


@pytest.mark.parametrize("name", MODELS)
def test_every_changelist_renders_in_a_fixed_number_of_queries(
    admin_client, acme, name, django_assert_max_num_queries
):
    run_sql("REFRESH MATERIALIZED VIEW team_productivity_analytics")
    with django_assert_max_num_queries(12):
        response = admin_client.get(changelist(name))
    assert response.status_code == 200


def test_the_activity_list_shows_related_names_escaped(admin_client, acme):
    acme.s1.title = "<script>alert(1)</script>"
    acme.s1.save()
    response = admin_client.get(changelist("collaborationactivity"))
    body = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>alert(1)</script>" not in body
    assert "dora@other.test" in body


def test_search_by_email_finds_a_users_rows(admin_client, acme):
    response = admin_client.get(
        changelist("organizationmember"), {"q": "BOB@acme.test"}
    )
    rows = list(response.context["cl"].result_list)
    assert [row.user_id for row in rows] == [acme.bob.pk]


def test_search_by_id_finds_a_studys_activity(admin_client, acme):
    response = admin_client.get(
        changelist("collaborationactivity"), {"q": str(acme.s2.pk)}
    )
    assert len(response.context["cl"].result_list) == 3


def test_search_by_id_finds_a_users_activity(admin_client, acme):
    response = admin_client.get(
        changelist("collaborationactivity"), {"q": str(acme.dora.pk)}
    )
    rows = list(response.context["cl"].result_list)
    assert [row.user_id for row in rows] == [acme.dora.pk]


@pytest.mark.parametrize("term", ["nothing", "'; DROP TABLE users; --", "%", "x" * 500])
def test_other_search_terms_give_an_empty_page(admin_client, acme, term):
    response = admin_client.get(changelist("studycollaborator"), {"q": term})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_a_bad_filter_value_is_not_a_server_error(admin_client, acme):
    response = admin_client.get(changelist("study"), {"status__exact": "nope"})
    assert response.status_code == 200
    response = admin_client.get(changelist("study"), {"created_at__gte": "garbage"})
    assert response.status_code in (200, 302)


def test_autocomplete_finds_users_by_email(admin_client, acme):
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "term": "carol@acme.test",
            "app_label": "collaboration",
            "model_name": "organizationmember",
            "field_name": "user",
        },
    )
    assert response.status_code == 200
    assert [item["text"] for item in response.json()["results"]] == ["carol@acme.test"]


def test_staff_need_the_view_permission(client, staff_user, acme):
    client.force_login(staff_user)
    assert client.get(changelist("study")).status_code == 403
    staff_user.user_permissions.add(Permission.objects.get(codename="view_study"))
    assert client.get(changelist("study")).status_code == 200


def test_the_view_is_read_only(admin_client, acme):
    run_sql("REFRESH MATERIALIZED VIEW team_productivity_analytics")
    url = reverse("admin:collaboration_teamproductivityanalytics_add")
    assert admin_client.get(url).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_paginator_estimates_big_tables(django_assert_num_queries):
    load_demo(SCALES["small"], seed=2)
    queryset = CollaborationActivity.objects.order_by("-created_at")
    exact = queryset.count()
    paginator = BoundedPaginator(queryset, 50)
    with django_assert_num_queries(1):
        estimate = paginator.estimate
    # The planner's estimate after ANALYZE, not a COUNT(*).
    assert abs(estimate - exact) <= exact * 0.05
    filtered = queryset.filter(activity_type="comment_added")
    estimate = BoundedPaginator(filtered, 50).estimate
    assert abs(estimate - filtered.count()) <= filtered.count() * 0.2
    # The count is exact up to the last page shown, in one LIMITed query.
    exact = filtered.count()
    with django_assert_num_queries(1):
        assert BoundedPaginator(filtered, 50).count == min(exact, 50 * MAX_PAGES)


@pytest.mark.django_db(transaction=True)
def test_a_search_matching_nothing_on_a_big_table_is_an_empty_page(
    admin_client, monkeypatch
):
    from perfconsole.collaboration import admin

    # Every list is longer than the pages shown: no exact count at all.
    monkeypatch.setattr(admin.BoundedPaginator, "max_pages", 2)
    load_demo(SCALES["small"], seed=2)
    for term in ["nothing", "'; DROP TABLE users; --"]:
        response = admin_client.get(changelist("collaborationactivity"), {"q": term})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == []
    # Filtered: "more than" the pages shown stands in for a count.
    response = admin_client.get(
        changelist("collaborationactivity"), {"activity_type__exact": "comment_added"}
    )
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 50


def test_big_lists_sort_only_by_indexed_columns(admin_client, acme):
    response = admin_client.get(changelist("organizationmember"), {"o": "2"})
    # An unsortable column is ignored: the indexed default order stays.
    assert response.status_code == 200
    query = str(response.context["cl"].result_list.query)
    assert query.endswith(
        'ORDER BY "organization_members"."organization_id" ASC,'
        ' "organization_members"."role" ASC, "organization_members"."id" DESC'
        # A one-page list is fetched with a LIMIT too.
        " LIMIT 50"
    )
    response = admin_client.get(changelist("collaborationactivity"), {"o": "1.-3"})
    query = str(response.context["cl"].result_list.query)
    assert 'ORDER BY "collaboration_activity"."created_at" ASC' in query


@pytest.mark.django_db(transaction=True)
def test_team_analytics_lead_with_the_most_active_organizations(admin_client):
    load_demo(SCALES["small"], seed=4)
    response = admin_client.get(changelist("teamproductivityanalytics"))
    rows = list(response.context["cl"].result_list)
    activity = [row.activity_last_30_days for row in rows]
    assert len(set(activity)) > 1 and activity == sorted(activity, reverse=True)
    # One moment for every row: on each row's page, not in a column.
    assert b"Computed at" not in response.content
    # The order is marked on its column, which may be sorted the other way.
    assert (
        b'class="sortable column-activity_last_30_days sorted descending"'
        in response.content
    )
