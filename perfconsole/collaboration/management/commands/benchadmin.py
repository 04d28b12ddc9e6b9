"""Time the collaboration changelists on the loaded demo data.

Each case (a first page, page 2, the deepest page, a sort, a filter, a
search by e-mail, name or id) is requested --runs times in this process
with Django's test client, signed in as a temporary superuser that is
deleted afterwards with its session. The worst cases are found by SQL: the
user on most studies, the largest organization, the study with most
activity. Prints one Markdown row per case: wall-clock times of the whole
request, the time its SQL took (p95 of the per-request sums) and the load
average beside them.
"""

import secrets
import statistics
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse

from perfconsole.collaboration.admin import MAX_PAGES
from perfconsole.core.timing import load_average, percentile, time_requests


def one(statement: str):
    """Return the first row of a statement."""
    with connection.cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchone()


def worst_cases() -> dict:
    """Return the ids and addresses the heaviest searches use."""
    user, email, studies = one(
        "SELECT u.id, u.email, count(*) FROM study_collaborators c"
        " JOIN users u ON u.id = c.user_id GROUP BY u.id, u.email"
        " ORDER BY count(*) DESC, u.id LIMIT 1"
    )
    member, member_email, organizations = one(
        "SELECT u.id, u.email, count(*) FROM organization_members m"
        " JOIN users u ON u.id = m.user_id GROUP BY u.id, u.email"
        " ORDER BY count(*) DESC, u.id LIMIT 1"
    )
    organization, slug, members = one(
        "SELECT o.id, o.slug, count(*) FROM organization_members m"
        " JOIN organizations o ON o.id = m.organization_id GROUP BY o.id, o.slug"
        " ORDER BY count(*) DESC, o.id LIMIT 1"
    )
    study, activity = one(
        "SELECT study_id, count(*) FROM collaboration_activity"
        " GROUP BY study_id ORDER BY count(*) DESC, study_id LIMIT 1"
    )
    (activity_id,) = one("SELECT id FROM collaboration_activity LIMIT 1")
    if None in (user, organization, study):
        raise CommandError("No demo data: run seeddemo first.")
    return {
        "user": user,
        "email": email,
        "studies": studies,
        "member_email": member_email,
        "organizations": organizations,
        "organization": organization,
        "slug": slug,
        "members": members,
        "study": study,
        "activity": activity,
        "activity_id": activity_id,
    }


def cases(worst: dict) -> list[tuple[str, str, dict]]:
    """Return (changelist, what, query) for every case timed."""
    deep = {"p": str(MAX_PAGES)}
    pages = [("first page", {}), ("page 2", {"p": "2"}), (f"page {MAX_PAGES}", deep)]
    found = []
    lists = {
        "productuser": [
            ("sorted by e-mail, descending", {"o": "-0"}),
            ("search: e-mail", {"q": worst["email"]}),
            ("search: user id", {"q": str(worst["user"])}),
        ],
        "organization": [
            ("sorted by slug, descending", {"o": "-1"}),
            ("search: slug", {"q": worst["slug"]}),
            ("search: organization id", {"q": str(worst["organization"])}),
        ],
        "organizationmember": [
            ("filter: role owner", {"role__exact": "owner"}),
            ("filter: role admin, page 2", {"role__exact": "admin", "p": "2"}),
            (
                f"search: e-mail of a member of {worst['organizations']} orgs",
                {"q": worst["member_email"]},
            ),
            (
                f"search: id of the largest org ({worst['members']} members)",
                {"q": str(worst["organization"])},
            ),
        ],
        "study": [
            ("sorted by date, newest first", {"o": "-3"}),
            ("sorted by date, oldest first", {"o": "3"}),
            ("filter: status archived", {"status__exact": "archived"}),
            ("search: title word", {"q": "sleep"}),
            ("search: title matching nothing", {"q": "no-such-title"}),
            ("search: organization id (largest)", {"q": str(worst["organization"])}),
            ("search: study id", {"q": str(worst["study"])}),
        ],
        "studycollaborator": [
            ("filter: role owner", {"role__exact": "owner"}),
            (
                f"search: e-mail of a user on {worst['studies']} studies",
                {"q": worst["email"]},
            ),
            ("search: that user's id", {"q": str(worst["user"])}),
            ("search: study id", {"q": str(worst["study"])}),
        ],
        "collaborationactivity": [
            ("sorted by date, oldest first", {"o": "0"}),
            ("filter: comment added", {"activity_type__exact": "comment_added"}),
            ("filter: study created", {"activity_type__exact": "study_created"}),
            (
                f"filter: study created, page {MAX_PAGES}",
                {"activity_type__exact": "study_created", **deep},
            ),
            (
                f"search: id of the study with most activity ({worst['activity']})",
                {"q": str(worst["study"])},
            ),
            (
                f"search: id of the user on {worst['studies']} studies",
                {"q": str(worst["user"])},
            ),
            ("search: activity id", {"q": str(worst["activity_id"])}),
            (
                "page 1000 (refused)",
                {"p": "1000"},
            ),
        ],
        "teamproductivityanalytics": [
            ("sorted by members", {"o": "-1"}),
            ("search: organization id", {"q": str(worst["organization"])}),
        ],
    }
    for name, extra in lists.items():
        for what, query in pages + extra:
            found.append((name, what, query))
    return found


def shown_rows(body: str) -> int | str:
    """Return how many rows the page's result table shows ("–" if none)."""
    if 'id="result_list"' not in body:
        return "–"
    table = body.split('id="result_list"', 1)[1]
    rows = table.split("<tbody", 1)[1].split("</tbody", 1)[0]
    return rows.count("<tr")


class Command(BaseCommand):
    help = "Time every collaboration changelist (first, second and deepest "
    "page, sorts, filters, searches) on the loaded demo data."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=20)
        parser.add_argument(
            "--only",
            default="",
            help="a changelist's model name, e.g. studycollaborator",
        )

    def handle(self, *, runs: int, only: str, **options):
        if runs < 1:
            raise CommandError("--runs must be at least 1.")
        worst = worst_cases()
        selected = [case for case in cases(worst) if not only or case[0] == only]
        if not selected:
            raise CommandError(f"--only {only}: no such changelist.")
        username = f"benchadmin-{secrets.token_hex(6)}"
        user = get_user_model().objects.create_superuser(username, "", None)
        client = Client(SERVER_NAME="127.0.0.1")
        client.force_login(user)
        self.stdout.write(
            "| changelist | request | status | rows | KB | p50 ms | p95 ms"
            " | max ms | SQL p95 ms | load average |"
            "\n|---|---|---|---|---|---|---|---|---|---|"
        )
        try:
            for name, what, query in selected:
                self.stdout.write(self.time_case(client, name, what, query, runs))
        finally:
            client.logout()
            user.delete()

    def time_case(self, client, name, what, query, runs) -> str:
        """Request one case `runs` times (after one warm-up); return its row."""
        url = reverse(f"admin:collaboration_{name}_changelist")
        if query:
            url += "?" + urlencode(query)
        timed = time_requests(client, url, runs)
        response = timed.response
        return (
            f"| {name} | {what} | {response.status_code}"
            f" | {shown_rows(response.content.decode())}"
            f" | {len(response.content) / 1024:.0f}"
            f" | {statistics.median(timed.times):.0f}"
            f" | {percentile(timed.times, 0.95):.0f}"
            f" | {max(timed.times):.0f} | {percentile(timed.sql_times, 0.95):.1f}"
            f" | {load_average()} |"
        )
