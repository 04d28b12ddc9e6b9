"""Generate realistic, skewed, deterministic demo data and load it with COPY.

Shape: organization sizes follow a Zipf-like law (a few very large
organizations, many small ones); about one user in a hundred is a "power user"
who joins many organizations and many studies; activity is heavier in recent
weeks; every role, status and activity type occurs. The same seed and anchor
give the same rows.

Loading runs in one transaction: the tables are emptied, the seed's secondary
indexes (TARGETS.md) and the foreign keys are dropped, every table is filled
with COPY, then indexes and foreign keys are put back exactly as they were
(building an index once is much faster than maintaining it row by row) and the
materialized view is refreshed. A failure leaves the previous state untouched.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from psycopg import sql

from .models import (
    COLLABORATION_TABLES,
    ROLLUP_TABLES,
    ActivityType,
    CollaboratorRole,
    MemberRole,
    StudyStatus,
)

DAY = 86_400
# How long a load waits for other sessions to release the tables.
LOCK_TIMEOUT = "30s"


@dataclass(frozen=True)
class Scale:
    organizations: int
    users: int
    memberships: int
    studies: int
    collaborators: int
    activity: int

    @property
    def total_rows(self) -> int:
        return (
            self.organizations
            + self.users
            + self.memberships
            + self.studies
            + self.collaborators
            + self.activity
        )


SCALES = {
    "small": Scale(100, 2_000, 10_000, 1_000, 5_000, 20_000),
    "medium": Scale(1_000, 20_000, 100_000, 10_000, 50_000, 500_000),
    "large": Scale(10_000, 200_000, 1_000_000, 100_000, 500_000, 5_000_000),
}


def weighted(shares: dict) -> list[str]:
    """Return each choice's value repeated by its share, for rng.choice."""
    return [choice.value for choice, share in shares.items() for _ in range(share)]


# Shares in percent; the first member or collaborator is always the owner.
MEMBER_ROLES = weighted(
    {MemberRole.ADMIN: 5, MemberRole.MEMBER: 70, MemberRole.VIEWER: 25}
)
COLLABORATOR_ROLES = weighted(
    {
        CollaboratorRole.EDITOR: 45,
        CollaboratorRole.REVIEWER: 25,
        CollaboratorRole.VIEWER: 30,
    }
)
STATUSES = weighted(
    {
        StudyStatus.DRAFT: 15,
        StudyStatus.ACTIVE: 40,
        StudyStatus.IN_REVIEW: 15,
        StudyStatus.COMPLETED: 20,
        StudyStatus.ARCHIVED: 10,
    }
)
# study_created is written once per study, at its creation.
ACTIVITY_TYPES = weighted(
    {
        ActivityType.COMMENT_ADDED: 30,
        ActivityType.COMMENT_RESOLVED: 14,
        ActivityType.FILE_UPLOADED: 15,
        ActivityType.STATUS_CHANGED: 10,
        ActivityType.REVIEW_REQUESTED: 10,
        ActivityType.REVIEW_COMPLETED: 8,
        ActivityType.COLLABORATOR_ADDED: 6,
    }
)
STUDY_CREATED = ActivityType.STUDY_CREATED.value
PERMISSIONS = {
    CollaboratorRole.OWNER.value: '{"read": true, "write": true, "comment": true, '
    '"review": true, "manage": true}',
    CollaboratorRole.EDITOR.value: '{"read": true, "write": true, "comment": true}',
    CollaboratorRole.REVIEWER.value: '{"read": true, "comment": true, "review": true}',
    CollaboratorRole.VIEWER.value: '{"read": true}',
}
FIRST = "Ada Alan Barbara Carl Dana Edsger Frances Grace Hedy Ivan Joan Ken "
FIRST += "Linus Margaret Niklaus Olga Radia Shafi Tim Yukihiro"
LAST = "Lovelace Turing Liskov Sagan Scott Dijkstra Allen Hopper Lamarr Sutherland "
LAST += "Clarke Thompson Torvalds Hamilton Wirth Taussky Perlman Goldwasser Berners"
WORDS = "adaptive cohort survey trial remote sensing genome retention pricing "
WORDS += "onboarding churn latency vaccine soil climate reading sleep habit"
FIRST, LAST, WORDS = FIRST.split(), LAST.split(), WORDS.split()


class Progress:
    """Write a plain-text progress bar to a stream (stderr by default)."""

    def __init__(self, total: int, stream=None, width: int = 30):
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.label = ""
        self.started = time.monotonic()
        self._shown = -1
        self._tty = getattr(self.stream, "isatty", lambda: False)()

    def advance(self, rows: int, label: str) -> None:
        self.done += rows
        self.label = label
        percent = min(100, self.done * 100 // self.total)
        # Not a terminal (a log, CI): one line per ten percent.
        step = 1 if self._tty else 10
        if percent // step != self._shown // step or self._shown < 0:
            self._shown = percent
            filled = self.width * percent // 100
            bar = "#" * filled + "." * (self.width - filled)
            elapsed = time.monotonic() - self.started
            start, end = ("\r", "") if self._tty else ("", "\n")
            self.stream.write(
                f"{start}[{bar}] {percent:3d}% {self.label:<24} {elapsed:6.1f}s{end}"
            )
            self.stream.flush()

    def finish(self) -> None:
        if self._tty:
            self.stream.write("\n")
        self.stream.flush()


class Generator:
    """Produce the rows of every table as COPY text lines, table by table."""

    def __init__(self, scale: Scale, seed: int, anchor: datetime):
        self.scale = scale
        self.rng = random.Random(seed)
        self.anchor = int(anchor.timestamp())
        self._days: dict[int, str] = {}
        self.org_ids: list[str] = []
        self.org_created: list[int] = []
        self.org_members: list[list[int]] = []
        self.user_ids: list[str] = []
        self.study_ids: list[str] = []
        self.study_created: list[int] = []
        self.study_people: list[list[int]] = []
        self.power_users = max(5, scale.users // 100)

    def new_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def ts(self, epoch: int) -> str:
        """Format an epoch second as a timestamptz literal, quickly."""
        day, second = divmod(epoch, DAY)
        text = self._days.get(day)
        if text is None:
            text = datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")
            self._days[day] = text
        hour, rest = divmod(second, 3600)
        return f"{text} {hour:02d}:{rest // 60:02d}:{rest % 60:02d}+00"

    def recent(self, since: int, mean_days: float) -> int:
        """Return a time after `since`, denser in recent weeks."""
        age = int(self.rng.expovariate(1 / (mean_days * DAY)))
        return max(since, self.anchor - age)

    def organizations(self):
        rng = self.rng
        for i in range(self.scale.organizations):
            created = self.anchor - rng.randint(60 * DAY, 1500 * DAY)
            self.org_ids.append(self.new_id())
            self.org_created.append(created)
            word = rng.choice(WORDS).title()
            name = f"{word} {rng.choice(LAST)} Labs {i}"
            yield f"{self.org_ids[-1]}\t{name}\torg-{i}\t{self.ts(created)}\n"

    def users(self):
        rng = self.rng
        for i in range(self.scale.users):
            self.user_ids.append(self.new_id())
            created = self.anchor - rng.randint(DAY, 1500 * DAY)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{first.lower()}.{last.lower()}.{i}@example.com"
            yield f"{self.user_ids[-1]}\t{email}\t{first} {last}\t{self.ts(created)}\n"

    def _sizes(self, total: int, cap: int, minimum: int) -> list[int]:
        """Split `total` over the organizations along a Zipf-like law."""
        weights = [1 / (rank + 1) ** 0.9 for rank in range(self.scale.organizations)]
        whole = sum(weights)
        return [max(minimum, min(cap, round(total * w / whole))) for w in weights]

    def memberships(self):
        rng = self.rng
        sizes = self._sizes(self.scale.memberships, self.scale.users, 2)
        for org, size in enumerate(sizes):
            members = rng.sample(range(self.power_users, self.scale.users), size - 1)
            # Power users belong to many organizations.
            power = rng.randrange(self.power_users)
            members.insert(0 if rng.random() < 0.3 else len(members), power)
            self.org_members.append(members)
            org_id = self.org_ids[org]
            owner = self.user_ids[members[0]]
            for position, user in enumerate(members):
                role = (
                    MemberRole.OWNER.value
                    if position == 0
                    else rng.choice(MEMBER_ROLES)
                )
                joined = self.recent(self.org_created[org], 400)
                invited = r"\N" if position == 0 else owner
                yield (
                    f"{self.new_id()}\t{org_id}\t{self.user_ids[user]}\t{role}\t"
                    f"{self.ts(joined)}\t{invited}\n"
                )

    def studies(self):
        rng = self.rng
        sizes = self._sizes(self.scale.studies, self.scale.studies, 1)
        for org, count in enumerate(sizes):
            members = self.org_members[org]
            for _ in range(count):
                created = self.recent(self.org_created[org], 200)
                creator = rng.choice(members)
                status = rng.choice(STATUSES)
                title = " ".join(rng.choices(WORDS, k=3)).capitalize()
                self.study_ids.append(self.new_id())
                self.study_created.append(created)
                self.study_people.append([org, creator])
                yield (
                    f"{self.study_ids[-1]}\t{self.org_ids[org]}\t{title}\t{status}\t"
                    f"{self.ts(created)}\t{self.user_ids[creator]}\n"
                )

    def collaborators(self):
        rng = self.rng
        per_study = self.scale.collaborators / max(1, len(self.study_ids))
        for study, people in enumerate(self.study_people):
            org, creator = people
            members = self.org_members[org]
            wanted = min(len(members), 1 + int(rng.expovariate(1 / per_study)))
            chosen = {creator}
            if members[0] < self.power_users or members[-1] < self.power_users:
                # The organization's power user works on most of its studies.
                power = members[0] if members[0] < self.power_users else members[-1]
                if rng.random() < 0.7:
                    chosen.add(power)
            while len(chosen) < wanted:
                chosen.add(rng.choice(members))
            ordered = [creator] + sorted(chosen - {creator})
            self.study_people[study] = ordered
            study_id = self.study_ids[study]
            owner = self.user_ids[creator]
            for position, user in enumerate(ordered):
                role = (
                    CollaboratorRole.OWNER.value
                    if position == 0
                    else rng.choice(COLLABORATOR_ROLES)
                )
                added = self.recent(self.study_created[study], 100)
                added_by = r"\N" if position == 0 else owner
                yield (
                    f"{self.new_id()}\t{study_id}\t{self.user_ids[user]}\t{role}\t"
                    f"{PERMISSIONS[role]}\t{self.ts(added)}\t{added_by}\n"
                )

    def activity(self):
        rng = self.rng
        studies = len(self.study_ids)
        weights = [rng.lognormvariate(0, 1.2) for _ in range(studies)]
        whole = sum(weights)
        extra = self.scale.activity - studies
        for study in range(studies):
            study_id = self.study_ids[study]
            people = self.study_people[study]
            created = self.study_created[study]
            yield (
                f"{self.new_id()}\t{study_id}\t{self.user_ids[people[0]]}\t"
                f"{self.ts(created)}\t{STUDY_CREATED}\t{{}}\n"
            )
            for n in range(round(extra * weights[study] / whole)):
                kind = rng.choice(ACTIVITY_TYPES)
                at = self.recent(created, 45)
                # A few rows come from integrations, without a user.
                user = (
                    r"\N" if rng.random() < 0.02 else self.user_ids[rng.choice(people)]
                )
                yield (
                    f"{self.new_id()}\t{study_id}\t{user}\t{self.ts(at)}\t{kind}\t"
                    f'{{"n": {n}}}\n'
                )


COLUMNS = {
    "organizations": "id, name, slug, created_at",
    "users": "id, email, full_name, created_at",
    "organization_members": "id, organization_id, user_id, role, joined_at, invited_by",
    "studies": "id, organization_id, title, status, created_at, created_by",
    "study_collaborators": (
        "id, study_id, user_id, role, permissions, added_at, added_by"
    ),
    "collaboration_activity": (
        "id, study_id, user_id, created_at, activity_type, details"
    ),
}


def tables_are_empty() -> bool:
    """Say whether every collaboration table is empty (cheap: EXISTS)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT "
            + " OR ".join(
                f"EXISTS (SELECT 1 FROM {table})" for table in COLLABORATION_TABLES
            )
        )
        return not cursor.fetchone()[0]


def _secondary_indexes(cursor) -> list[str]:
    """Return CREATE statements of indexes that back no constraint."""
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index AS i"
        " WHERE i.indrelid = ANY(%s::regclass[])"
        "   AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c"
        "                    WHERE c.conindid = i.indexrelid)",
        [COLLABORATION_TABLES],
    )
    return [row[0] for row in cursor.fetchall()]


def _foreign_keys(cursor) -> list[tuple[str, str, str]]:
    """Return (table, name, definition) of the tables' foreign keys."""
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
        "  FROM pg_constraint"
        " WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])",
        [COLLABORATION_TABLES],
    )
    return cursor.fetchall()


# Insert triggers of summaries the loader rebuilds whole after its COPYs.
INSERT_TRIGGERS = [
    ("study_collaborators", "study_collaborators_list_insert"),
    ("collaboration_activity", "collaboration_activity_rollup_insert"),
    ("collaboration_activity", "collaboration_activity_list_insert"),
]


def _copy(cursor, table: str, lines, progress: Progress, batch: int = 5000):
    """Stream lines into one table with COPY, in batches."""
    statement = f"COPY {table} ({COLUMNS[table]}) FROM STDIN"
    with cursor.copy(statement) as copy:
        chunk = []
        for line in lines:
            chunk.append(line)
            if len(chunk) == batch:
                copy.write("".join(chunk))
                progress.advance(batch, table)
                chunk = []
        if chunk:
            copy.write("".join(chunk))
            progress.advance(len(chunk), table)


def load_demo(
    scale: Scale,
    seed: int = 1,
    anchor: datetime | None = None,
    stream=None,
    using: str = DEFAULT_DB_ALIAS,
) -> dict[str, int]:
    """Replace the collaboration data with generated rows; return row counts.

    `using` names the database alias (another scale's database, in tests).
    """
    database = connections[using]
    anchor = anchor or datetime.now(UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    generator = Generator(scale, seed, anchor)
    progress = Progress(scale.total_rows, stream)
    with transaction.atomic(using=using), database.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute("SET LOCAL statement_timeout = 0")
        # TRUNCATE waits for every reader of the tables: fail clearly instead.
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cursor.execute(
            sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in COLLABORATION_TABLES)
            )
        )
        indexes = _secondary_indexes(cursor)
        foreign_keys = _foreign_keys(cursor)
        for table, name, _ in foreign_keys:
            cursor.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.SQL(table), sql.Identifier(name)
                )
            )
        cursor.execute(
            "SELECT string_agg(format('%%I.%%I', n.nspname, c.relname), ', ')"
            "  FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid"
            "  JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE i.indrelid = ANY(%s::regclass[])"
            "   AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k"
            "                    WHERE k.conindid = i.indexrelid)",
            [COLLABORATION_TABLES],
        )
        to_drop = cursor.fetchone()[0]
        if to_drop:
            cursor.execute(f"DROP INDEX {to_drop}")
        _copy(cursor, "organizations", generator.organizations(), progress)
        _copy(cursor, "users", generator.users(), progress)
        _copy(cursor, "organization_members", generator.memberships(), progress)
        _copy(cursor, "studies", generator.studies(), progress)
        # The TRUNCATE marked the whole rollup dirty and it is rebuilt below,
        # and user_collaborative_studies is rebuilt whole: no need to collect
        # millions of rows for the insert triggers.
        for table, trigger in INSERT_TRIGGERS:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        _copy(cursor, "study_collaborators", generator.collaborators(), progress)
        _copy(cursor, "collaboration_activity", generator.activity(), progress)
        for table, trigger in INSERT_TRIGGERS:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
        progress.finish()
        for statement in indexes:
            cursor.execute(statement)
        cursor.execute("SELECT user_collaborative_studies_rebuild(NULL)")
        for table, name, definition in foreign_keys:
            cursor.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    sql.SQL(table), sql.Identifier(name), sql.SQL(definition)
                )
            )
        cursor.execute("REFRESH MATERIALIZED VIEW team_productivity_analytics")
        counts = {}
        for table in COLLABORATION_TABLES:
            cursor.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            )
            counts[table] = cursor.fetchone()[0]
    # VACUUM sets the visibility map, so index-only scans stay index-only;
    # it cannot run inside a transaction (a test's), where ANALYZE must do.
    command = "ANALYZE" if database.in_atomic_block else "VACUUM (ANALYZE)"
    with database.cursor() as cursor:
        cursor.execute("SELECT refresh_organization_activity_rollup()")
        for table in [
            *COLLABORATION_TABLES,
            "team_productivity_analytics",
            *ROLLUP_TABLES,
        ]:
            cursor.execute(f"{command} {table}")
    return counts
