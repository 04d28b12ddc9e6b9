"""Guards of issue 11's rule: one page helper, one way to render a table."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE_HELPER = ROOT / "perfconsole/core/pages.py"
TABLE_TEMPLATE = ROOT / "templates/django_tables2/admin_table.html"
# Closing tags of table markup: a table assembled in Python would write them.
TABLE_MARKUP = re.compile(r"</(table|thead|tbody|tr|th|td)>", re.IGNORECASE)


def python_sources():
    for folder in ("perfconsole", "config"):
        yield from (ROOT / folder).rglob("*.py")


def templates():
    for folder in ("perfconsole", "templates"):
        yield from (ROOT / folder).rglob("*.html")


def test_only_the_page_helper_builds_the_admin_page_context():
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_sources()
        if path != PAGE_HELPER
        and (
            "each_context(" in path.read_text()
            or "TemplateResponse(" in path.read_text()
        )
    ]
    assert not offenders, (
        "use perfconsole.core.pages.admin_page_context() and render_admin_page()"
    )


def test_no_python_module_writes_table_markup():
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_sources()
        if TABLE_MARKUP.search(path.read_text())
    ]
    assert not offenders, "render rows with a perfconsole.core.tables table"


def test_row_tables_render_through_the_one_table_template():
    # A table with a header row lists rows: it is a django-tables2 table.
    # Two-column property sheets (a th and a td per line) stay in templates.
    offenders = [
        str(path.relative_to(ROOT))
        for path in templates()
        if path != TABLE_TEMPLATE and "<thead" in path.read_text()
    ]
    assert not offenders, "use {% render_table %} with a perfconsole.core.tables table"
