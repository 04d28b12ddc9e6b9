"""A plan as a tree a person reads: EXPLAIN (FORMAT JSON) turned into nodes.

Each node says what it does (node type, relation or index), the planner's
estimated rows and total cost, and its own share of the cost (its total cost
less its children's). Sequential scans, and the node whose own cost is the
largest, are marked so the page can highlight them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SEQ_SCANS = ("Seq Scan", "Parallel Seq Scan")


@dataclass
class PlanNode:
    """One node of a plan, with its children."""

    node_type: str
    target: str
    detail: str
    rows: int
    startup_cost: float
    total_cost: float
    children: list[PlanNode] = field(default_factory=list)
    costliest: bool = False

    @property
    def self_cost(self) -> float:
        """Return the cost this node adds to its children's."""
        below = sum(child.total_cost for child in self.children)
        return max(self.total_cost - below, 0.0)

    @property
    def seq_scan(self) -> bool:
        return self.node_type in SEQ_SCANS

    @property
    def css_class(self) -> str:
        """Return the classes that highlight the node on the page."""
        classes = ["pc-plan-item"]
        if self.seq_scan:
            classes.append("pc-plan-seqscan")
        if self.costliest:
            classes.append("pc-plan-costliest")
        return " ".join(classes)

    def walk(self):
        """Yield this node and every node below it."""
        yield self
        for child in self.children:
            yield from child.walk()


def _target(plan: dict[str, Any]) -> str:
    """Say what a node reads: "on schema.table alias", "using index"."""
    parts = []
    if plan.get("Index Name"):
        parts.append(f"using {plan['Index Name']}")
    relation = plan.get("Relation Name") or plan.get("Function Name")
    relation = relation or plan.get("CTE Name")
    if relation:
        if plan.get("Schema"):
            relation = f"{plan['Schema']}.{relation}"
        alias = plan.get("Alias")
        if alias and alias != plan.get("Relation Name"):
            relation = f"{relation} {alias}"
        parts.append(f"on {relation}")
    return " ".join(parts)


def _detail(plan: dict[str, Any]) -> str:
    """Return the node's condition or filter, shortened, if it has one."""
    for key in (
        "Join Type",
        "Hash Cond",
        "Merge Cond",
        "Index Cond",
        "Recheck Cond",
        "Filter",
        "Sort Key",
        "Group Key",
    ):
        value = plan.get(key)
        if value:
            if isinstance(value, list):
                value = ", ".join(str(item) for item in value)
            return f"{key}: {value}"
    return ""


def _node(plan: dict[str, Any]) -> PlanNode:
    node_type = plan["Node Type"]
    if plan.get("Strategy") and node_type == "Aggregate":
        node_type = f"{plan['Strategy'].title()}Aggregate".replace(
            "PlainAggregate", "Aggregate"
        )
    if plan.get("Parent Relationship") == "InitPlan":
        node_type = f"{node_type} (InitPlan)"
    return PlanNode(
        node_type=node_type,
        target=_target(plan),
        detail=_detail(plan),
        rows=int(plan.get("Plan Rows", 0)),
        startup_cost=float(plan.get("Startup Cost", 0)),
        total_cost=float(plan.get("Total Cost", 0)),
        children=[_node(child) for child in plan.get("Plans", [])],
    )


def plan_tree(explained: Any) -> PlanNode | None:
    """Return the root of EXPLAIN (FORMAT JSON)'s plan, costliest node marked.

    explained is EXPLAIN's one value: the JSON text or its parsed list.
    """
    if isinstance(explained, str):
        explained = json.loads(explained)
    if not explained or "Plan" not in explained[0]:
        return None
    root = _node(explained[0]["Plan"])
    costliest = max(root.walk(), key=lambda node: node.self_cost)
    costliest.costliest = True
    return root
