"""README's least-privilege recipe, run as written, then the console as that role.

The SQL block is read from README.md, so the documented recipe and the tested
one cannot drift. It runs on whatever server the suite uses (CI: PostgreSQL 18
and 15), on a fresh database and a fresh non-superuser role.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from psycopg import sql

from perfconsole.core.db import console_connection_params, raw_connection

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PASSWORD = "least-privilege-test"

pytestmark = pytest.mark.django_db


def readme_recipe():
    """Return the SQL block of the README section on an existing server."""
    text = README.read_text()
    section = re.search(
        r"^## Pointing it at an existing server\n(.*?)^## ", text, re.S | re.M
    )
    assert section, "README has no 'Pointing it at an existing server' section"
    block = re.search(r"^```sql\n(.*?)^```", section.group(1), re.S | re.M)
    assert block, "that section has no ```sql block"
    return block.group(1)


def substitute(recipe, role, database):
    """Put the test's role, database and password into the recipe."""
    # perfconsole and any perfconsole_<suffix> role: roles are shared by
    # every database of the server, so each run gets names of its own.
    recipe = re.sub(r"\bperfconsole(\w*)\b", lambda m: role + m.group(1), recipe)
    recipe = re.sub(r"\bapp\b", database, recipe)
    return recipe.replace("'secret'", f"'{PASSWORD}'")


def _superuser_connection(dbname):
    return raw_connection(console_connection_params(dbname=dbname))


def _drop(admin, database, role):
    admin.execute(
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(database)
        )
    )
    names = admin.execute(
        "SELECT rolname FROM pg_roles WHERE rolname = %s OR rolname LIKE %s",
        [role, f"{role}\\_%"],
    ).fetchall()
    for (name,) in names:
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def recipe_database():
    """Create a database and run the README's recipe in it as a superuser."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            pytest.skip("the recipe needs the suite to connect as a superuser")
    # Named after this run's test database: runs sharing a server differ.
    database = f"{connection.settings_dict['NAME']}_lp"
    role = f"{database}_role"
    with _superuser_connection("postgres") as admin:
        _drop(admin, database, role)
        # template0: no pg_stat_statements yet, as on a product's database.
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(
                sql.Identifier(database)
            )
        )
        try:
            with _superuser_connection(database) as target:
                target.execute(substitute(readme_recipe(), role, database))
            yield role, database
        finally:
            _drop(admin, database, role)


def database_url(role, database, password=PASSWORD):
    """Return a URL of the suite's server for this role and database."""
    params = connection.settings_dict
    login = f"{role}:{password}" if password else role
    return (
        f"postgresql://{login}@{params['HOST'] or '127.0.0.1'}:"
        f"{params['PORT'] or 5432}/{database}"
    )


def manage(role, database, *args, password=PASSWORD, **env):
    """Run manage.py as the recipe's role against its database."""
    env = {
        **{
            key: value
            for key, value in os.environ.items()
            if key not in ("PERFCONSOLE_TEST_DB", "DEBUG", "PERFCONSOLE_PROCESS")
        },
        "DATABASE_URL": database_url(role, database, password),
        "SECRET_KEY": "least-privilege-" + "k" * 40,
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_recipe_is_the_readme_block_with_the_test_names():
    recipe = substitute(readme_recipe(), "r1", "d1")

    assert "CREATE ROLE r1 LOGIN PASSWORD" in recipe
    assert "GRANT pg_monitor TO r1" in recipe
    assert "perfconsole" not in recipe.replace("pg_stat_statements", "")


def test_the_console_runs_as_the_readme_role(recipe_database):
    role, database = recipe_database
    with _superuser_connection(database) as target:
        rolsuper, createdb = target.execute(
            "SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = %s", [role]
        ).fetchone()
    assert (rolsuper, createdb) == (False, False)

    migrate = manage(role, database, "migrate", "--noinput")
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr

    verify = manage(role, database, "verifyperf", "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # pg_monitor is enough to read pg_stat_statements: the real views, not
    # the placeholder.
    sync = manage(role, database, "syncstatviews")
    assert sync.returncode == 0, sync.stderr
    assert "Views synced for pg_stat_statements" in sync.stdout

    health = manage(role, database, "healthcheck", "--json")
    assert health.returncode == 0, health.stderr
    assert "Permission denied" not in health.stdout

    update = manage(role, database, "syncstatviews", "--update-extension")
    assert update.returncode == 1
    assert "Traceback" not in update.stderr
    assert "Only the owner of the extension pg_stat_statements" in update.stderr
    assert "ALTER EXTENSION pg_stat_statements UPDATE" in update.stderr
    # Nothing was changed: query_stats still reads the extension.
    after = manage(role, database, "syncstatviews")
    assert "Views synced for pg_stat_statements" in after.stdout

    # The README's next step: the superuser creates the explain role.
    explain_role = f"{role}_explain"
    explain = manage(
        connection.settings_dict["USER"],
        database,
        "setupexplainrole",
        password=connection.settings_dict["PASSWORD"],
        EXPLAIN_DATABASE_URL=database_url(explain_role, database, password=None),
    )
    assert explain.returncode == 0, explain.stdout + explain.stderr
    assert f"Connected as {explain_role}" in explain.stdout
