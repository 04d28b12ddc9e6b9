"""Suggest indexes for slow queries that scan large tables.

PgHero's heuristic: parse a single-table SELECT, order its WHERE columns by
how many rows each leaves (from pg_stats), keep the columns that cut the
rows down, and skip what an existing index already covers. A suggestion is
then checked with the planner's costs: through HypoPG when it is installed,
otherwise by building the index inside a transaction that is rolled back
(only when trial indexes are allowed, since the build locks the table).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field

import psycopg
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from pglast import ast, parse_sql
from pglast.enums import A_Expr_Kind, NullTestType
from pglast.parser import ParseError
from pglast.stream import RawStream

from perfconsole.core.db import (
    StatisticsUnavailable,
    TaggedCursor,
    generic_plan,
    monitoring_cursor,
)
from perfconsole.health.registry import checked_alias, checked_database
from perfconsole.monitoring.explain import (
    ExplainUnavailable,
    explain_failure,
    explain_session,
    single_statement,
)

from . import catalog
from .catalog import qualified_name, quote_ident

EQUALITY, RANGE, NULL, NOT_NULL = "equality", "range", "null", "not_null"
RANGE_OPERATORS = {"<", "<=", ">", ">="}

# PgHero's limits: stop adding columns below this many rows, never suggest
# more than two, and drop a column that cuts the rows by less than 70 %.
TARGET_ROWS = 50
MAX_COLUMNS = 2
MIN_REDUCTION = 0.3
# Dexter's rule: a suggestion must halve the query's estimated cost.
MIN_COST_SAVING = 0.5
# What the console's own connection may plan with a trial index: nothing
# that calls a function, casts, or names an operator outside pg_catalog.
PLAIN_NODES = {
    ast.SelectStmt,
    ast.RangeVar,
    ast.Alias,
    ast.JoinExpr,
    ast.ResTarget,
    ast.ColumnRef,
    ast.String,
    ast.A_Star,
    ast.A_Const,
    ast.Integer,
    ast.Float,
    ast.Boolean,
    ast.ParamRef,
    ast.A_Expr,
    ast.BoolExpr,
    ast.NullTest,
    ast.SortBy,
    ast.TypeCast,
    ast.TypeName,
}
PLAIN_OPERATORS = {"=", "<>", "!=", "<", "<=", ">", ">="}


class Unsupported(Exception):
    """The query is outside what the conservative parser understands."""


@dataclass
class Scan:
    """The single table a query reads, with its filter and sort columns."""

    table: str
    predicates: list[tuple[str, str]] = field(default_factory=list)
    order_by: list[str] = field(default_factory=list)
    parameters: int = 0


@dataclass
class Suggestion:
    """A candidate index for one query, with the planner's verdict."""

    query: str
    queryid: int | None
    mean_ms: float
    calls: int
    schema: str
    table_name: str
    estimated_rows: int
    columns: list[str]
    cost_before: float | None = None
    cost_after: float | None = None
    method: str = "not checked"
    plan_uses_index: bool | None = None
    confirmed: bool = False
    # How long the trial build held its lock on the table.
    trial_build_ms: int | None = None

    @property
    def table(self):
        return qualified_name(self.schema, self.table_name)

    @property
    def index_name(self):
        name = f"{self.table_name}_{'_'.join(self.columns)}_idx".lower()
        if len(name) > 63:
            digest = hashlib.sha1(name.encode()).hexdigest()[:8]
            name = f"{name[:50]}_{digest}_idx"
        return name

    def create_sql(self, concurrently=True):
        """Return the CREATE INDEX statement for this suggestion."""
        columns = ", ".join(quote_ident(column) for column in self.columns)
        how = "CONCURRENTLY IF NOT EXISTS " if concurrently else ""
        return (
            f"CREATE INDEX {how}{quote_ident(self.index_name)} "
            f"ON {self.table} ({columns});"
        )

    @property
    def saving(self):
        """Return the estimated cost saving as a fraction, or None."""
        if not self.cost_before or self.cost_after is None:
            return None
        return 1 - self.cost_after / self.cost_before


def parse_scans(query):
    """Return one Scan per table the SELECT filters, or raise Unsupported.

    Tables come from FROM and JOIN ... ON; each gets the conditions on its
    own columns: comparisons with a value, and equalities with a column of
    another table (the join key, looked up once per outer row). A column
    without its table's name in a query on several tables is left out.
    """
    try:
        statements = parse_sql(query)
    except ParseError as error:
        raise Unsupported(f"cannot parse: {error}") from error
    if len(statements) != 1 or not isinstance(statements[0].stmt, ast.SelectStmt):
        raise Unsupported("only single SELECT statements are analyzed")
    select = statements[0].stmt
    if select.op and select.op.name != "SETOP_NONE":
        raise Unsupported("UNION / INTERSECT / EXCEPT are not analyzed")
    if select.withClause or not select.fromClause:
        raise Unsupported("only queries on tables (no WITH) are analyzed")
    tables, conditions = {}, []
    for item in select.fromClause:
        _collect_tables(item, tables, conditions)
    if select.whereClause is not None:
        conditions.extend(_conjuncts(select.whereClause))
    parameters = _parameter_count(query)
    scans = {
        key: Scan(table=name, parameters=parameters) for key, name in tables.items()
    }
    for condition in conditions:
        for key, column, kind in _predicates(condition, tables):
            scans[key].predicates.append((column, kind))
    _add_sort_columns(select.sortClause or (), tables, scans)
    filtered = [scan for scan in scans.values() if scan.predicates]
    if not filtered:
        raise Unsupported("no WHERE or JOIN condition to index")
    return filtered


def parse_scan(query):
    """Return the Scan of a single-table SELECT, or raise Unsupported."""
    scans = parse_scans(query)
    if len(scans) != 1:
        raise Unsupported("more than one table is filtered")
    return scans[0]


def _collect_tables(node, tables, conditions):
    """Record the tables of a FROM item by alias, and its join conditions."""
    if isinstance(node, ast.RangeVar):
        key = node.alias.aliasname if node.alias else node.relname
        if key in tables:
            raise Unsupported(f"table {key} appears twice")
        name = node.relname
        tables[key] = f"{node.schemaname}.{name}" if node.schemaname else name
    elif isinstance(node, ast.JoinExpr):
        if node.isNatural or node.usingClause:
            raise Unsupported("NATURAL and USING joins are not analyzed")
        _collect_tables(node.larg, tables, conditions)
        _collect_tables(node.rarg, tables, conditions)
        if node.quals is not None:
            conditions.extend(_conjuncts(node.quals))
    else:
        raise Unsupported("subqueries and functions in FROM are not analyzed")


def _add_sort_columns(sort_clause, tables, scans):
    # The sort helps an index only if all its columns come from one table.
    columns = [_resolve(sort.node, tables) for sort in sort_clause]
    if columns and None not in columns and len({key for key, _ in columns}) == 1:
        scans[columns[0][0]].order_by = [column for _, column in columns]


def _parameter_count(query):
    return max((int(n) for n in re.findall(r"\$(\d+)", query)), default=0)


def _conjuncts(node):
    if isinstance(node, ast.BoolExpr):
        if node.boolop.name != "AND_EXPR":
            raise Unsupported("OR / NOT conditions are not analyzed")
        for arg in node.args:
            yield from _conjuncts(arg)
    else:
        yield node


def _predicates(node, tables):
    """Yield (table key, column, kind) for one condition."""
    if isinstance(node, ast.NullTest):
        resolved = _resolve(node.arg, tables)
        if resolved is not None:
            is_null = node.nulltesttype == NullTestType.IS_NULL
            yield (*resolved, NULL if is_null else NOT_NULL)
        return
    if not isinstance(node, ast.A_Expr):
        raise Unsupported("only simple comparisons are analyzed")
    operator = node.name[-1].sval if node.name else ""
    if node.kind in (A_Expr_Kind.AEXPR_BETWEEN, A_Expr_Kind.AEXPR_LIKE):
        raise Unsupported("BETWEEN and LIKE are not analyzed")
    left, right = _resolve(node.lexpr, tables), None
    if node.kind == A_Expr_Kind.AEXPR_OP:
        right = _resolve(node.rexpr, tables)
    if node.kind == A_Expr_Kind.AEXPR_OP and operator == "=" and left and right:
        if left[0] != right[0]:
            # A join key: each side is looked up by the other's value.
            yield (*left, EQUALITY)
            yield (*right, EQUALITY)
        return
    value = node.rexpr
    if left is None:
        left, value = right, node.lexpr
        operator = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(operator, operator)
    if left is None and (_is_plain_column(node.lexpr) or _is_plain_column(node.rexpr)):
        return  # a column of an unknown table: left out
    if left is None:
        raise Unsupported("comparisons must have a plain column on one side")
    if _is_plain_column(value):
        return  # compared with a column of an unknown table: left out
    if node.kind == A_Expr_Kind.AEXPR_OP and operator == "=" and _is_value(value):
        yield (*left, EQUALITY)
    elif node.kind == A_Expr_Kind.AEXPR_OP and operator in RANGE_OPERATORS:
        if not _is_value(value):
            raise Unsupported(f"{left[1]} {operator} an expression is not analyzed")
        yield (*left, RANGE)
    elif node.kind == A_Expr_Kind.AEXPR_IN and operator == "=":
        if not all(_is_value(item) for item in value):
            raise Unsupported("IN with expressions is not analyzed")
        yield (*left, EQUALITY)
    else:
        raise Unsupported(f"operator {operator!r} is not analyzed")


def _is_value(node):
    """Return True for a parameter or constant, possibly cast."""
    if isinstance(node, ast.TypeCast):
        return _is_value(node.arg)
    return isinstance(node, ast.ParamRef | ast.A_Const)


def _is_plain_column(node):
    return isinstance(node, ast.ColumnRef)


def _resolve(node, tables):
    """Return (table key, column) of a plain column reference, else None.

    An unqualified column belongs to the only table; with several tables
    its table is unknown without the catalog, so it is left out.
    """
    if not isinstance(node, ast.ColumnRef):
        return None
    names = [getattr(part, "sval", None) for part in node.fields]
    if None in names or len(names) > 2:
        return None
    if len(names) == 1:
        return (next(iter(tables)), names[0]) if len(tables) == 1 else None
    qualifier, column = names
    if qualifier in tables:
        return qualifier, column
    return None


def choose_columns(scan, estimated_rows, stats):
    """Return the columns to index, most selective first (PgHero's rule)."""
    estimates = []
    for column, kind in scan.predicates:
        if column not in stats:
            continue
        remaining = _rows_left(stats[column], kind, estimated_rows)
        estimates.append((remaining, kind, column))
    estimates.sort()
    chosen, rows = [], estimated_rows
    for remaining_rows, kind, column in estimates:
        if column in chosen:
            continue
        if rows < TARGET_ROWS or len(chosen) >= MAX_COLUMNS:
            break
        # Each further column narrows what the previous ones left.
        narrowed = rows * remaining_rows / max(estimated_rows, 1)
        if chosen and narrowed > MIN_REDUCTION * rows:
            break
        rows = narrowed
        chosen.append(column)
        if kind == RANGE:
            break
    if chosen and all(kind == EQUALITY for _, kind, col in estimates if col in chosen):
        # Rows already equal on the leading columns come out in index order,
        # so the sort column saves the sort step.
        for column in scan.order_by[:1]:
            if column not in chosen and len(chosen) < MAX_COLUMNS + 1:
                chosen.append(column)
    return chosen


def _rows_left(column_stats, kind, total_rows):
    """Estimate the rows left after one condition, from pg_stats."""
    null_frac = float(column_stats["null_frac"] or 0)
    if kind == NULL:
        return total_rows * null_frac
    if kind == NOT_NULL:
        return total_rows * (1 - null_frac)
    n_distinct = float(column_stats["n_distinct"] or 0)
    non_null = total_rows * (1 - null_frac)
    if n_distinct == 0:
        per_value = non_null
    elif n_distinct < 0:
        # A negative n_distinct is a fraction of the rows.
        per_value = non_null / max(-n_distinct * total_rows, 1)
    else:
        per_value = non_null / n_distinct
    if kind == RANGE:
        # The planner's default selectivity for an open range, as PgHero.
        return (non_null + per_value) / 10
    return per_value


def covered_by(columns, table_indexes):
    """Return the name of an existing btree index that leads with `columns`."""
    for index in table_indexes:
        if (
            index["method"] == "btree"
            and index["is_valid"]
            and not index["is_partial"]
            and index["key_columns"][: len(columns)] == columns
        ):
            return index["index_name"]
    return None


def suggest_indexes(slow_queries, *, min_rows, trial_indexes):
    """Return (suggestions, skipped) for the slow queries given.

    `skipped` lists (query, reason) for queries left without a suggestion,
    so the report can say why.
    """
    inventory = catalog.index_inventory()
    suggestions, skipped = [], []
    for row in slow_queries:
        try:
            scans = parse_scans(row["query"])
        except Unsupported as reason:
            skipped.append((row["query"], str(reason)))
            continue
        found, reasons = [], []
        for scan in scans:
            try:
                found.append(
                    _suggest_one(row, scan, inventory, min_rows, trial_indexes)
                )
            except (Unsupported, StatisticsUnavailable) as reason:
                # One locked table or timeout costs one suggestion, not the list.
                prefix = f"{scan.table}: " if len(scans) > 1 else ""
                reasons.append(f"{prefix}{reason}")
        suggestions.extend(found)
        if not found:
            skipped.append((row["query"], "; ".join(reasons)))
    return suggestions, skipped


def _suggest_one(row, scan, inventory, min_rows, trial_indexes):
    """Return the checked suggestion for one table of a query, or raise."""
    table = catalog.table(scan.table)
    if table is None:
        raise Unsupported(f"table {scan.table} not found on the search path")
    if table["estimated_rows"] < min_rows:
        raise Unsupported(f"{scan.table} has under {min_rows} rows")
    columns = {column for column, _ in scan.predicates} | set(scan.order_by)
    stats = catalog.column_stats(table["schema"], table["table_name"], columns)
    if not stats:
        raise Unsupported(f"no pg_stats for {scan.table}: run ANALYZE")
    chosen = choose_columns(scan, table["estimated_rows"], stats)
    if not chosen:
        raise Unsupported("no selective column to index")
    table_indexes = [i for i in inventory if i["table_oid"] == table["table_oid"]]
    existing = covered_by(chosen, table_indexes)
    if existing:
        raise Unsupported(f"already covered by index {existing}")
    suggestion = Suggestion(
        query=row["query"],
        queryid=row.get("queryid"),
        mean_ms=float(row["mean_ms"]),
        calls=row["calls"],
        schema=table["schema"],
        table_name=table["table_name"],
        estimated_rows=table["estimated_rows"],
        columns=chosen,
    )
    check_with_planner(suggestion, scan.parameters, trial_indexes=trial_indexes)
    if suggestion.method != "not checked" and not suggestion.confirmed:
        raise Unsupported(
            f"the planner would not gain from an index on {', '.join(chosen)}"
        )
    return suggestion


def check_with_planner(suggestion, parameters, *, trial_indexes):
    """Fill in the query's cost without and with the index.

    The monitored text is planned only by the explain role on its own
    connection (perfconsole.monitoring.explain): planning runs functions any
    database user can write. With HypoPG the index is hypothetical, on that
    connection; otherwise, when trial indexes are allowed and the statement
    can run no one else's code, it is built for real inside a transaction of
    the console that is rolled back. Else only the current cost is recorded.
    """
    try:
        if _hypopg_installed():
            _check_with_hypopg(suggestion, parameters)
            return
        statement = _trial_statement_or_none(suggestion.query, trial_indexes)
        if statement:
            _check_with_trial_index(suggestion, statement, parameters)
            return
        with explain_session(checked_database()) as session:
            suggestion.cost_before = _plan_cost(
                generic_plan(session, _statement(suggestion), parameters, "JSON")
            )[0]
    except ExplainUnavailable:
        # Plans are off or refused: the suggestion stays unchecked.
        return
    except psycopg.Error as error:
        raise Unsupported(f"EXPLAIN failed: {explain_failure(error)}") from error
    except (DatabaseError, StatisticsUnavailable) as error:
        raise Unsupported(f"EXPLAIN failed: {error}") from error


def _trial_statement_or_none(query, trial_indexes):
    """Return the text a trial index may be planned with, or None.

    Only on the console's own database: a target is read-only to the console.
    """
    if not trial_indexes or checked_database() is not None:
        return None
    try:
        return trial_statement(query)
    except Unsupported:
        return None  # not plain: checked by the explain role, without the index


def _statement(suggestion):
    return single_statement(suggestion.query) or suggestion.query


def _plan_cost(rows):
    """Return (total cost, plan) from EXPLAIN (FORMAT JSON)'s rows."""
    plan = rows[0][0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Total Cost"]), plan


def _hypopg_installed():
    with monitoring_cursor(checked_alias()) as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'hypopg'")
        return cursor.fetchone() is not None


def _check_with_hypopg(suggestion, parameters):
    # The hypothetical index lives in the explain connection's backend only
    # and ends with it.
    statement = _statement(suggestion)
    with explain_session(checked_database()) as session:
        before, _ = _plan_cost(generic_plan(session, statement, parameters, "JSON"))
        hypothetical = session.execute(
            "SELECT indexname FROM hypopg_create_index(%s)",
            [suggestion.create_sql(concurrently=False)],
        ).fetchone()[0]
        after, plan = _plan_cost(generic_plan(session, statement, parameters, "JSON"))
    _record(
        suggestion, "hypothetical index (HypoPG)", before, after, plan, hypothetical
    )


def trial_statement(query):
    """Return query with its tables schema-qualified, if the console may plan it.

    A trial index is uncommitted, so only the console's own connection sees
    it; that connection plans only a statement that can run no one else's
    code: tables the console's role owns (so no one else's index, policy or
    view), columns, constants, $n, comparisons, AND / OR / NOT, ORDER BY and
    LIMIT. It is planned with search_path pg_catalog, so every operator is
    a built-in. Raise Unsupported otherwise.
    """
    select = parse_sql(query)[0].stmt
    _only_plain_nodes(select)
    relations = []
    _relations(select, relations)
    owned = catalog.own_tables([name for name, _ in relations])
    for name, node in relations:
        if name not in owned:
            raise Unsupported(f"{name} is not a table the console's role owns")
        node.schemaname, node.relname = owned[name]
    return RawStream()(select)


def _only_plain_nodes(node):
    """Raise Unsupported if the tree holds anything but plain SQL."""
    if isinstance(node, list | tuple):
        for item in node:
            _only_plain_nodes(item)
        return
    if not isinstance(node, ast.Node):
        return  # names, numbers, flags
    if type(node) not in PLAIN_NODES:
        raise Unsupported(f"{type(node).__name__} cannot be planned by the console")
    if isinstance(node, ast.A_Expr) and (
        node.kind not in (A_Expr_Kind.AEXPR_OP, A_Expr_Kind.AEXPR_IN)
        or len(node.name) != 1
        or node.name[0].sval not in PLAIN_OPERATORS
    ):
        raise Unsupported("only built-in comparisons can be planned by the console")
    if isinstance(node, ast.SortBy) and node.useOp:
        raise Unsupported("ORDER BY ... USING cannot be planned by the console")
    if isinstance(node, ast.TypeName) and not _builtin_type_name(node):
        raise Unsupported("only built-in types can be planned by the console")
    for slot in node:
        _only_plain_nodes(getattr(node, slot))


def _builtin_type_name(node):
    # Unqualified names resolve in pg_catalog only: search_path is pinned.
    names = [name.sval for name in node.names]
    return not node.pct_type and (
        len(names) == 1 or (len(names) == 2 and names[0] == "pg_catalog")
    )


def _relations(node, found):
    """Collect (name as written, RangeVar) of every table in the tree."""
    if isinstance(node, list | tuple):
        for item in node:
            _relations(item, found)
    elif isinstance(node, ast.RangeVar):
        name = f"{node.schemaname}.{node.relname}" if node.schemaname else node.relname
        found.append((name, node))
    elif isinstance(node, ast.Node):
        for slot in node:
            _relations(getattr(node, slot), found)


def _check_with_trial_index(suggestion, statement, parameters):
    """Build the index in a transaction, EXPLAIN, and roll everything back."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            session = TaggedCursor(cursor, connection.pg_version)
            session.execute(
                "SELECT set_config('lock_timeout', %s, true),"
                " set_config('statement_timeout', %s, true),"
                " set_config('search_path', 'pg_catalog', true)",
                [
                    f"{settings.MONITORING_LOCK_TIMEOUT_MS}ms",
                    f"{settings.ANALYZER_TRIAL_INDEX_TIMEOUT_MS}ms",
                ],
            )
            before, _ = _plan_cost(generic_plan(session, statement, parameters, "JSON"))
            started = time.monotonic()
            session.execute(suggestion.create_sql(concurrently=False))
            suggestion.trial_build_ms = round(1000 * (time.monotonic() - started))
            after, plan = _plan_cost(
                generic_plan(session, statement, parameters, "JSON")
            )
        transaction.set_rollback(True)
    _record(
        suggestion,
        "trial index (built and rolled back)",
        before,
        after,
        plan,
        suggestion.index_name,
    )


def _record(suggestion, method, before, after, plan, index_name):
    suggestion.method = method
    suggestion.cost_before = before
    suggestion.cost_after = after
    suggestion.plan_uses_index = index_name in json.dumps(plan)
    suggestion.confirmed = bool(
        suggestion.plan_uses_index and after <= before * (1 - MIN_COST_SAVING)
    )
