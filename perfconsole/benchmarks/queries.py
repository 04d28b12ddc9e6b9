"""The collaboration queries the benchmark measures.

Each one's seed target and our goal are in perfconsole.core.targets
(QUERY_GOALS, by the query's name; TARGETS.md lists them).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from perfconsole.core.sqlfiles import SqlFolder
from perfconsole.core.targets import QUERY_GOALS, QueryGoal

QUERY_FILES = SqlFolder(__file__, "queries")


@cache
def read_sql(name: str) -> str:
    """Return the text of sql/queries/<name>.sql without its comment lines."""
    text = QUERY_FILES.read(f"{name}.sql")
    lines = [line for line in text.splitlines() if not line.startswith("--")]
    return "\n".join(lines).strip()


@dataclass(frozen=True)
class BenchmarkQuery:
    name: str
    label: str
    sql_file: str
    # The kind of parameters it takes, drawn by parameters.draw().
    params: str

    @property
    def sql(self) -> str:
        return read_sql(self.sql_file)

    @property
    def goal(self) -> QueryGoal:
        return QUERY_GOALS[self.name]


QUERIES = [
    BenchmarkQuery(
        "organization_member_lookup",
        "Organization member lookup",
        "organization_member_lookup_v1",
        "user",
    ),
    BenchmarkQuery(
        "study_permission_check",
        "Study permission check",
        "study_permission_check_v1",
        "study_user",
    ),
    BenchmarkQuery(
        "activity_feed",
        "Activity feed (latest 50)",
        "activity_feed_v1",
        "study",
    ),
    BenchmarkQuery(
        "organization_studies_by_status",
        "Organization studies by status",
        "organization_studies_by_status_v1",
        "organization_status",
    ),
    BenchmarkQuery(
        "team_analytics_view",
        "Team analytics (materialized view)",
        "team_analytics_view_v1",
        "organization",
    ),
    BenchmarkQuery(
        "team_analytics_function",
        "Team analytics (get_organization_analytics, 30 days)",
        "team_analytics_function_v1",
        "organization",
    ),
    BenchmarkQuery(
        "user_collaborative_studies",
        "get_user_collaborative_studies",
        "user_collaborative_studies_v1",
        "collaborator",
    ),
]


def by_name(names: list[str] | None) -> list[BenchmarkQuery]:
    """Return the queries with these names (all when names is empty)."""
    if not names:
        return list(QUERIES)
    known = {query.name: query for query in QUERIES}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise KeyError(", ".join(unknown))
    return [known[name] for name in names]
