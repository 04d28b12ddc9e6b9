"""Draw benchmark parameters from the data, mixing large and small organizations.

Half of every parameter list comes from the largest organizations (by
members, from the materialized view), half from a uniform sample, so the
figures cover both the heavy tail and the common case. A seed makes the draw
repeatable: `--compare` measures both phases with the very same parameters.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from perfconsole.collaboration.models import StudyStatus

STATUSES = StudyStatus.values
# How many organizations count as "large": the top of the member ranking.
LARGE_ORGANIZATIONS = 20
POOL = 200


@dataclass
class Pools:
    large_orgs: list = field(default_factory=list)
    small_orgs: list = field(default_factory=list)
    large_users: list = field(default_factory=list)
    small_users: list = field(default_factory=list)
    large_studies: list = field(default_factory=list)
    small_studies: list = field(default_factory=list)
    large_pairs: list = field(default_factory=list)
    small_pairs: list = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.small_orgs and self.small_users and self.small_pairs)


def _column(cursor, sql, params=None):
    cursor.execute(sql, params or [])
    return [row[0] for row in cursor.fetchall()]


def _rows(cursor, sql, params=None):
    cursor.execute(sql, params or [])
    return [tuple(row) for row in cursor.fetchall()]


def sample_percent(cursor, table: str, wanted: int) -> float:
    """Return a TABLESAMPLE percentage that yields about `wanted` rows."""
    cursor.execute(
        "SELECT greatest(reltuples, 1) FROM pg_class WHERE oid = %s::regclass",
        [table],
    )
    estimate = cursor.fetchone()[0]
    return min(100.0, max(0.01, 100.0 * wanted * 3 / estimate))


def load_pools(cursor, seed: int) -> Pools:
    """Read candidate parameters: from the large organizations and at random."""
    pools = Pools()
    pools.large_orgs = _column(
        cursor,
        "SELECT organization_id FROM team_productivity_analytics"
        " ORDER BY member_count DESC, organization_id LIMIT %s",
        [LARGE_ORGANIZATIONS],
    )
    percent = {
        table: sample_percent(cursor, table, POOL)
        for table in ("organizations", "organization_members", "study_collaborators")
    }
    pools.small_orgs = _column(
        cursor,
        "SELECT id FROM organizations TABLESAMPLE BERNOULLI (%s) REPEATABLE (%s)"
        " LIMIT %s",
        [percent["organizations"], seed, POOL],
    )
    pools.small_users = _column(
        cursor,
        "SELECT user_id FROM organization_members"
        " TABLESAMPLE BERNOULLI (%s) REPEATABLE (%s) LIMIT %s",
        [percent["organization_members"], seed, POOL],
    )
    pools.small_pairs = _rows(
        cursor,
        "SELECT study_id, user_id FROM study_collaborators"
        " TABLESAMPLE BERNOULLI (%s) REPEATABLE (%s) LIMIT %s",
        [percent["study_collaborators"], seed, POOL],
    )
    pools.small_studies = [study for study, _ in pools.small_pairs]
    if pools.large_orgs:
        # setseed makes random() repeatable within this transaction-less read.
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
        pools.large_users = _column(
            cursor,
            "SELECT user_id FROM organization_members"
            " WHERE organization_id = ANY(%s::uuid[]) ORDER BY random() LIMIT %s",
            [pools.large_orgs, POOL],
        )
        pools.large_pairs = _rows(
            cursor,
            "SELECT sc.study_id, sc.user_id FROM studies AS s"
            "  JOIN study_collaborators AS sc ON sc.study_id = s.id"
            " WHERE s.organization_id = ANY(%s::uuid[]) ORDER BY random() LIMIT %s",
            [pools.large_orgs, POOL],
        )
        pools.large_studies = [study for study, _ in pools.large_pairs]
    return pools


def _mixed(rng, large, small):
    """Pick from the large pool or the small one, half and half.

    Return the value and which pool it came from.
    """
    if large and (not small or rng.random() < 0.5):
        return rng.choice(large), "large"
    return rng.choice(small), "small"


def draw(kind: str, pools: Pools, count: int, seed: int) -> list[dict]:
    """Return `count` parameter dicts of one kind, repeatable for a seed.

    Each dict also says under "_group" whether it came from a large
    organization ("large") or the uniform sample ("small").
    """
    rng = random.Random(f"{seed}:{kind}")
    result = []
    for _ in range(count):
        if kind == "user":
            user, group = _mixed(rng, pools.large_users, pools.small_users)
            params = {"user_id": user}
        elif kind == "collaborator":
            pair, group = _mixed(rng, pools.large_pairs, pools.small_pairs)
            params = {"user_id": pair[1]}
        elif kind == "study_user":
            (study, user), group = _mixed(rng, pools.large_pairs, pools.small_pairs)
            # One check in five is a denial: a member who is not on the study.
            if rng.random() < 0.2:
                user = rng.choice(pools.small_users)
            params = {"study_id": study, "user_id": user}
        elif kind == "study":
            study, group = _mixed(rng, pools.large_studies, pools.small_studies)
            params = {"study_id": study}
        elif kind == "organization":
            org, group = _mixed(rng, pools.large_orgs, pools.small_orgs)
            params = {"organization_id": org}
        elif kind == "organization_status":
            org, group = _mixed(rng, pools.large_orgs, pools.small_orgs)
            params = {"organization_id": org, "status": rng.choice(STATUSES)}
        else:
            raise ValueError(f"unknown parameter kind {kind!r}")
        result.append({**params, "_group": group})
    return result


def sql_params(params: dict) -> dict:
    """Return the parameters without the bookkeeping keys."""
    return {key: value for key, value in params.items() if not key.startswith("_")}
