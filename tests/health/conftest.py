"""A database with real problems, each created for real, and a healthy schema.

`problem_schema` builds, once per run, the schema `health_fixture`:

| table / object                  | problem                                      |
|---------------------------------|----------------------------------------------|
| dup: dup_a_idx, dup_a_b_idx     | (a) is a leading prefix of (a, b)            |
| unused: unused_payload_idx      | a 700 kB index never scanned                 |
| invalid: invalid_code_idx       | INVALID: a failed CREATE UNIQUE INDEX CONC.  |
| dead                            | 1 200 dead tuples, autovacuum off            |
| small_seq: small_seq_id_seq     | smallserial at 30 000 of 32 767              |
| scanned                         | 12 000 rows read by sequential scans         |
| unmaintained                    | 10 000 rows, never vacuumed or analyzed      |
| bloated, bloated_pkey           | 90 % deleted, vacuumed: table + index bloat  |
| child: child_parent_id_fkey     | 12 000 rows, foreign key without an index    |
| child_indexed, child_partial    | the same key indexed (fully; WHERE NOT NULL) |

and `health_healthy`, a maintained schema where no check may report anything.
Autovacuum is off on every fixture table so that the conditions stay put.
Size floors are lowered (see `fixture_thresholds`) so the tests stay small.
"""

import threading
import time

import psycopg
import pytest
from django.db import DatabaseError, connection

FIXTURE_THRESHOLDS = {
    "unused_index_min_bytes": 512 * 1024,
    "table_bloat_min_bytes": 512 * 1024,
    "index_bloat_min_bytes": 256 * 1024,
}

NO_AUTOVACUUM = "WITH (autovacuum_enabled = false)"

PROBLEMS = f"""
DROP SCHEMA IF EXISTS health_fixture CASCADE;
CREATE SCHEMA health_fixture;

CREATE TABLE health_fixture.dup (id int PRIMARY KEY, a int, b int) {NO_AUTOVACUUM};
INSERT INTO health_fixture.dup SELECT g, g % 10, g % 7 FROM generate_series(1, 100) g;
CREATE INDEX dup_a_idx ON health_fixture.dup (a);
CREATE INDEX dup_a_b_idx ON health_fixture.dup (a, b);

CREATE TABLE health_fixture.unused (id int PRIMARY KEY, payload text) {NO_AUTOVACUUM};
INSERT INTO health_fixture.unused
  SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 5000) g;
CREATE INDEX unused_payload_idx ON health_fixture.unused (payload);

CREATE TABLE health_fixture.invalid (id int PRIMARY KEY, code int) {NO_AUTOVACUUM};
INSERT INTO health_fixture.invalid SELECT g, g % 3 FROM generate_series(1, 100) g;

CREATE TABLE health_fixture.dead (id int PRIMARY KEY, v int) {NO_AUTOVACUUM};
INSERT INTO health_fixture.dead SELECT g, g FROM generate_series(1, 1500) g;
DELETE FROM health_fixture.dead WHERE id > 300;

CREATE TABLE health_fixture.small_seq (id smallserial PRIMARY KEY, v int)
  {NO_AUTOVACUUM};
SELECT setval('health_fixture.small_seq_id_seq', 30000);

CREATE TABLE health_fixture.scanned (id int PRIMARY KEY, v int) {NO_AUTOVACUUM};
INSERT INTO health_fixture.scanned SELECT g, g % 100 FROM generate_series(1, 12000) g;
SELECT pg_stat_force_next_flush();
SELECT 1;
VACUUM ANALYZE health_fixture.scanned;
SELECT count(*) FROM health_fixture.scanned WHERE v = 1;
SELECT count(*) FROM health_fixture.scanned WHERE v = 2;
SELECT count(*) FROM health_fixture.scanned WHERE v = 3;

CREATE TABLE health_fixture.unmaintained (v int) {NO_AUTOVACUUM};
INSERT INTO health_fixture.unmaintained SELECT g FROM generate_series(1, 10000) g;

CREATE TABLE health_fixture.bloated (id int PRIMARY KEY, v int) {NO_AUTOVACUUM};
INSERT INTO health_fixture.bloated SELECT g, g FROM generate_series(1, 40000) g;
DELETE FROM health_fixture.bloated WHERE id % 10 <> 0;
SELECT pg_stat_force_next_flush();
SELECT 1;
VACUUM health_fixture.bloated;

CREATE TABLE health_fixture.parent (id int PRIMARY KEY) {NO_AUTOVACUUM};
INSERT INTO health_fixture.parent SELECT g FROM generate_series(1, 100) g;
CREATE TABLE health_fixture.child (
  id int PRIMARY KEY,
  parent_id int REFERENCES health_fixture.parent ON DELETE CASCADE
) {NO_AUTOVACUUM};
INSERT INTO health_fixture.child SELECT g, g % 100 + 1 FROM generate_series(1, 12000) g;
CREATE TABLE health_fixture.child_indexed (LIKE health_fixture.child) {NO_AUTOVACUUM};
ALTER TABLE health_fixture.child_indexed
  ADD FOREIGN KEY (parent_id) REFERENCES health_fixture.parent;
INSERT INTO health_fixture.child_indexed
  SELECT g, g % 100 + 1 FROM generate_series(1, 12000) g;
CREATE INDEX child_indexed_parent_idx ON health_fixture.child_indexed (parent_id, id);
CREATE TABLE health_fixture.child_partial (LIKE health_fixture.child) {NO_AUTOVACUUM};
ALTER TABLE health_fixture.child_partial
  ADD FOREIGN KEY (parent_id) REFERENCES health_fixture.parent;
INSERT INTO health_fixture.child_partial
  SELECT g, g % 100 + 1 FROM generate_series(1, 12000) g;
CREATE INDEX child_partial_parent_idx ON health_fixture.child_partial (parent_id)
  WHERE parent_id IS NOT NULL;

VACUUM ANALYZE health_fixture.parent, health_fixture.child,
        health_fixture.child_indexed, health_fixture.child_partial;
-- Building their indexes and checking their keys read them sequentially: start
-- their scan counters afresh, so only the foreign-key check sees them.
SELECT pg_stat_force_next_flush();
SELECT 1;
SELECT pg_stat_reset_single_table_counters(t::regclass)
  FROM unnest(ARRAY['health_fixture.child', 'health_fixture.child_indexed',
                    'health_fixture.child_partial']) AS t;

ANALYZE health_fixture.dup, health_fixture.unused, health_fixture.invalid,
        health_fixture.dead, health_fixture.small_seq, health_fixture.bloated;

DROP SCHEMA IF EXISTS health_healthy CASCADE;
CREATE SCHEMA health_healthy;
CREATE TABLE health_healthy.accounts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL UNIQUE,
  team int NOT NULL
) {NO_AUTOVACUUM};
CREATE INDEX accounts_team_idx ON health_healthy.accounts (team);
INSERT INTO health_healthy.accounts (email, team)
  SELECT 'user' || g || '@example.com', g % 50 FROM generate_series(1, 2000) g;
SELECT pg_stat_force_next_flush();
SELECT 1;
VACUUM ANALYZE health_healthy.accounts;
"""

# Reads of the healthy table through its indexes (the planner is told to).
HEALTHY_READS = """
SET enable_seqscan = off;
SELECT count(*) FROM health_healthy.accounts WHERE id = 5;
SELECT count(*) FROM health_healthy.accounts WHERE email = 'user7@example.com';
SELECT count(*) FROM health_healthy.accounts WHERE team = 3;
RESET enable_seqscan;
"""

# A unique index built concurrently over duplicate codes: the build fails and
# leaves the index INVALID, as in production.
FAILED_BUILD = (
    "CREATE UNIQUE INDEX CONCURRENTLY invalid_code_idx ON health_fixture.invalid (code)"
)


def flush_stats(cursor):
    """Make this backend's pending statistics visible to other transactions."""
    # The next time the backend goes idle it reports its counters at once
    # instead of waiting for the stats interval (PostgreSQL 15+).
    cursor.execute("SELECT pg_stat_force_next_flush()")
    cursor.execute("SELECT 1")


@pytest.fixture(scope="session")
def problem_schema(django_db_setup, django_db_blocker):
    """Build the problem and healthy schemas once per test run."""
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        for statement in PROBLEMS.split(";\n"):
            if statement.strip():
                cursor.execute(statement)
        try:
            cursor.execute(FAILED_BUILD)
        except Exception as error:  # noqa: BLE001 - the failure is the point
            assert "could not create unique index" in str(error)
        else:
            raise AssertionError("the concurrent build should have failed")
        for statement in HEALTHY_READS.split(";\n"):
            if statement.strip():
                cursor.execute(statement)
        flush_stats(cursor)
    yield "health_fixture"
    # Other apps' tests share this database: leave no problems behind.
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA health_fixture, health_healthy CASCADE")


@pytest.fixture
def fixture_thresholds(settings):
    """Lower the size floors to the fixture's small objects."""
    settings.HEALTH_THRESHOLDS = dict(FIXTURE_THRESHOLDS)
    return settings.HEALTH_THRESHOLDS


def subjects(result, schema="health_fixture"):
    """Return the subjects of a result's problems that belong to `schema`.

    Rows listed with a reason to keep them (an unused index that backs a
    constraint) are no problem: they are left out.
    """
    return {
        row["subject"]
        for row in result.rows
        if str(row.get("subject", "")).startswith(f"{schema}.")
        and not row.get("keep_because")
    }


@pytest.fixture
def session_factory(second_connection):
    """Open test sessions that the console does not hide (own application_name)."""

    def open_session(autocommit=True):
        conn = second_connection(autocommit=autocommit)
        conn.execute("SET application_name = 'health-test'")
        if not autocommit:
            conn.commit()
        return conn

    return open_session


class Background:
    """A statement running in a thread on its own connection."""

    def __init__(self, conn, sql):
        self.conn = conn
        self.pid = conn.info.backend_pid
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(sql,), daemon=True)
        self.thread.start()

    def _run(self, sql):
        try:
            self.conn.execute(sql)
        except psycopg.Error as error:
            self.error = error

    def stop(self):
        if self.thread.is_alive():
            self.conn.cancel_safe()
        self.thread.join(timeout=10)


@pytest.fixture
def background(session_factory):
    """Start statements in background sessions; cancel them at the end."""
    started = []

    def start(sql, conn=None):
        job = Background(conn or session_factory(), sql)
        started.append(job)
        return job

    yield start
    for job in started:
        job.stop()


def wait_for(predicate, timeout=10.0):
    """Poll `predicate` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


MONITOR_ROLE = "perfconsole_health_test_monitor"


@pytest.fixture
def monitor_role(transactional_db):
    """Run the Django connection as a non-superuser role with pg_monitor."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""DO $$ BEGIN
                  CREATE ROLE {MONITOR_ROLE} NOLOGIN IN ROLE pg_monitor;
                EXCEPTION WHEN duplicate_object THEN NULL; END $$"""
        )
        cursor.execute(f"GRANT USAGE ON SCHEMA health_fixture TO {MONITOR_ROLE}")
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {MONITOR_ROLE}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {MONITOR_ROLE}")
        cursor.execute(f"SET ROLE {MONITOR_ROLE}")
    yield MONITOR_ROLE
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute(f"DROP OWNED BY {MONITOR_ROLE}")
        try:
            # Best effort: a concurrent run may still use the role.
            cursor.execute(f"DROP ROLE {MONITOR_ROLE}")
        except DatabaseError:
            pass
