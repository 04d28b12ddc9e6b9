"""Each index is stated once, in its .sql file; the rest is derived or checked.

verifyperf's expected definitions are read from the files the migrations
run, the models' Meta indexes (kept for Django's migration state) must render
to the same statements, and the CHECK constraints the database enforces are
the models' TextChoices.
"""

import re

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from perfconsole.collaboration import models
from perfconsole.collaboration.operations import BuildIndexConcurrently
from perfconsole.collaboration.performance import (
    FOREIGN_KEY_INDEXES,
    INDEXES,
    normalized_index,
)
from perfconsole.collaboration.sqlfiles import load_sql

from .conftest import run_sql

SPECS = INDEXES + FOREIGN_KEY_INDEXES


def latest_index_files():
    """Return {index name: sql_file} of the last migration that builds each."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    (leaf,) = loader.graph.leaf_nodes("collaboration")
    files = {}
    for key in loader.graph.forwards_plan(leaf):
        if key[0] != "collaboration":
            continue
        for operation in loader.graph.nodes[key].operations:
            if isinstance(operation, BuildIndexConcurrently):
                files[operation.index.name] = operation.sql_file
    return files


def test_every_expected_index_is_the_file_a_migration_builds():
    assert {spec.name: spec.sql_file for spec in SPECS} == latest_index_files()


@pytest.mark.django_db
def test_each_index_file_yields_the_definition_in_pg_indexes_after_migrate():
    for spec in SPECS:
        (indexdef,) = run_sql(
            "SELECT indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema() AND indexname = %s",
            [spec.name],
        )[0]
        # Name, table and keys come from the file, not from a second copy.
        assert spec.name in load_sql(spec.sql_file)
        assert spec.matches(indexdef, "public"), (indexdef, spec.definition())


def test_a_changed_file_would_no_longer_match():
    spec = INDEXES[0]
    built = normalized_index(load_sql(spec.sql_file), "public")
    changed = built.replace("role)", "role DESC)")

    assert changed != built
    assert spec.matches(built)
    assert not spec.matches(changed)


@pytest.mark.django_db
def test_the_models_meta_indexes_render_the_files_statements():
    tables = {
        model._meta.db_table: model
        for model in [
            models.OrganizationMember,
            models.Study,
            models.StudyCollaborator,
            models.CollaborationActivity,
        ]
    }
    with connection.schema_editor(collect_sql=True) as editor:
        for spec in SPECS:
            model = tables[spec.table]
            (index,) = [i for i in model._meta.indexes if i.name == spec.name]
            rendered = str(index.create_sql(model, editor))
            assert normalized_index(rendered) == spec.create_sql(), spec.name


@pytest.mark.django_db
@pytest.mark.parametrize(
    "constraint, choices",
    [
        ("organization_members_role_check", models.MemberRole),
        ("studies_status_check", models.StudyStatus),
        ("study_collaborators_role_check", models.CollaboratorRole),
        ("collaboration_activity_type_check", models.ActivityType),
    ],
)
def test_the_check_constraints_allow_exactly_the_choices(constraint, choices):
    ((definition,),) = run_sql(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s",
        [constraint],
    )

    assert sorted(re.findall(r"'([^']*)'::", definition)) == sorted(choices.values)
