"""The Readiness page's campaigns and group tree: burn-up charts, days left, teams behind, roll-ups with drill-down.

Read from the warehouse tables the audit publishes (``campaign_progress``, ``scorecard_rollup``,
``scorecard`` and ``facts_registry_teams`` for the tree), for the latest audit date; a
warehouse written before these tables existed shows "no campaigns" and a flat list of teams.
The burn-up chart is inline SVG shaped here (no chart library in the API server): teams
meeting the campaign per audit date from its start, against the number of teams it asks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from oncall_readiness.report.page.views import Site, date_of, optional_float, team_href
from oncall_readiness.warehouse import Warehouse

BURNUP_WIDTH, BURNUP_HEIGHT, BURNUP_PAD = 360, 140, 24


@dataclass(frozen=True)
class BurnUp:
    """An SVG burn-up: ``points`` of teams meeting the campaign per audit date, ``scope`` the teams asked."""

    width: int
    height: int
    points: str
    scope_y: float
    due_x: float
    today_x: float
    last: tuple[float, float] | None
    scope: int
    title: str
    x_labels: list[tuple[float, str]]


@dataclass(frozen=True)
class BehindTeam:
    team: str
    href: str
    reason: str


@dataclass(frozen=True)
class CampaignView:
    campaign_id: str
    title: str
    start: dt.date
    due: dt.date
    days_left: int  # negative: overdue
    teams: int
    meeting: int
    behind: list[BehindTeam]
    burnup: BurnUp


@dataclass(frozen=True)
class GroupTeam:
    """A team inside a group of the tree: its latest score and level."""

    team: str
    href: str
    score: float | None
    level: str
    failed: int


# Levels of the group tree drawn on one page; a group deeper down is a link to its own page.
TREE_DEPTH = 6


@dataclass
class GroupNode:
    """A parent group with its roll-up, its child groups and its own teams."""

    name: str
    href: str
    group_type: str | None
    score: float | None
    level: str
    teams: int
    services: int
    parent: str | None = None
    children: list[GroupNode] = field(default_factory=list)
    members: list[GroupTeam] = field(default_factory=list)


@dataclass(frozen=True)
class GroupTree:
    audit_date: dt.date
    roots: list[GroupNode]
    unparented: list[GroupTeam]  # teams that belong to no parent group
    focus: GroupNode | None = None  # the group drilled into
    ancestors: list[str] = field(default_factory=list)  # of the focus, root first
    behind: list[tuple[str, BehindTeam]] = field(default_factory=list)  # (campaign title, team) in the focus


def campaigns_view(warehouse: Warehouse, audit_date: dt.date) -> list[CampaignView]:
    """Every campaign with progress on ``audit_date``: its burn-up to that date, days left, teams behind."""
    if not _has(warehouse, "campaign_progress"):
        return []
    table = warehouse.table("campaign_progress")
    with warehouse.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(table).where(table.c.audit_date <= audit_date)).mappings()]
    today = [row for row in rows if date_of(row["audit_date"]) == audit_date]
    views = []
    for campaign_id in dict.fromkeys(row["campaign_id"] for row in today):
        current = [row for row in today if row["campaign_id"] == campaign_id]
        first = current[0]
        start, due = date_of(first["start"]), date_of(first["due"])
        history: dict[dt.date, int] = {}
        for row in rows:
            if row["campaign_id"] == campaign_id and date_of(row["audit_date"]) >= start:
                day = date_of(row["audit_date"])
                history[day] = history.get(day, 0) + bool(row["meets"])
        behind = sorted((row for row in current if not row["meets"]), key=lambda row: row["team"].casefold())
        views.append(
            CampaignView(
                campaign_id=campaign_id,
                title=first["title"],
                start=start,
                due=due,
                days_left=(due - audit_date).days,
                teams=len(current),
                meeting=sum(bool(row["meets"]) for row in current),
                behind=[BehindTeam(row["team"], team_href(row["team"]), row["reason"]) for row in behind],
                burnup=burnup(sorted(history.items()), start=start, due=due, today=audit_date, scope=len(current)),
            )
        )
    return sorted(views, key=lambda view: (view.due, view.campaign_id))


def burnup(history: list[tuple[dt.date, int]], *, start: dt.date, due: dt.date, today: dt.date, scope: int) -> BurnUp:
    """Teams meeting the campaign per audit date, over the days from its start to its due date (or today, if later)."""
    end = max(due, today, start + dt.timedelta(days=1))
    span = (end - start).days
    inner_w, inner_h = BURNUP_WIDTH - 2 * BURNUP_PAD, BURNUP_HEIGHT - 2 * BURNUP_PAD

    def x(day: dt.date) -> float:
        return round(BURNUP_PAD + (day - start).days / span * inner_w, 1)

    def y(count: int) -> float:
        return round(BURNUP_PAD + inner_h - count / max(scope, 1) * inner_h, 1)

    coordinates = [(x(day), y(count)) for day, count in history]
    title = "; ".join(f"{day.isoformat()}: {count} of {scope}" for day, count in history) or "no audit since the start"
    return BurnUp(
        width=BURNUP_WIDTH,
        height=BURNUP_HEIGHT,
        points=" ".join(f"{px},{py}" for px, py in coordinates),
        scope_y=y(scope),
        due_x=x(due),
        today_x=x(min(today, end)),
        last=coordinates[-1] if coordinates else None,
        scope=scope,
        title=title,
        x_labels=[(x(start), start.isoformat()), (x(due), f"due {due.isoformat()}")],
    )


def group_tree(warehouse: Warehouse, audit_date: dt.date, focus: str | None = None) -> GroupTree | None:
    """The parent groups of ``audit_date`` as a tree with their teams.

    ``focus``: one group drilled into; None when there is no parent group of that name.
    """
    card = _read(warehouse, "scorecard", audit_date, ("team", "score", "level", "failed"))
    rollup = _read(
        warehouse,
        "scorecard_rollup",
        audit_date,
        ("group_name", "group_type", "parent", "score", "level", "teams", "services"),
    )
    groups = _read(warehouse, "facts_registry_teams", audit_date, ("team", "parent"))
    parent_of = {row["team"]: row["parent"] for row in groups}
    nodes = {
        row["group_name"]: GroupNode(
            name=row["group_name"],
            href=group_href(row["group_name"]),
            group_type=row["group_type"],
            score=optional_float(row["score"]),
            level=row["level"] or "none",
            teams=int(row["teams"] or 0),
            services=int(row["services"] or 0),
            parent=row["parent"],
        )
        for row in rollup
    }
    unparented: list[GroupTeam] = []
    for row in sorted(card, key=lambda row: row["team"].casefold()):
        member = GroupTeam(
            row["team"], team_href(row["team"]), optional_float(row["score"]), row["level"], int(row["failed"] or 0)
        )
        parent = parent_of.get(row["team"])
        (nodes[parent].members if parent in nodes else unparented).append(member)
    roots: list[GroupNode] = []
    for node in sorted(nodes.values(), key=lambda node: node.name.casefold()):
        (nodes[node.parent].children if node.parent in nodes else roots).append(node)
    if focus is not None and focus not in nodes:
        return None
    chain: list[str] = []
    current = nodes[focus].parent if focus else None
    while current is not None and current in nodes and current not in chain:
        chain.insert(0, current)
        current = nodes[current].parent
    behind = []
    if focus is not None:
        under = {team.team for team in _all_members(nodes[focus])}
        behind = [
            (view.title, team)
            for view in campaigns_view(warehouse, audit_date)
            for team in view.behind
            if team.team in under
        ]
    return GroupTree(audit_date, roots, unparented, nodes.get(focus) if focus else None, chain, behind)


def group_href(group: str) -> str:
    """The group's page, relative to the scorecard page."""
    return "groups/" + quote(group, safe="")


def _all_members(node: GroupNode) -> list[GroupTeam]:
    """Every team at or below ``node`` (walked, not recursed: a tree may be hundreds of levels deep)."""
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        found += current.members
        stack += current.children
    return found


def _has(warehouse: Warehouse, name: str) -> bool:
    with warehouse.engine.connect() as conn:
        return sa.inspect(conn).has_table(name, schema=warehouse.schema)


def _read(warehouse: Warehouse, name: str, audit_date: dt.date, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    if not _has(warehouse, name):
        return []
    table = warehouse.table(name)
    query = sa.select(*(table.c[column] for column in columns)).where(table.c.audit_date == audit_date)
    with warehouse.engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def render_campaigns_page(
    campaigns: list[CampaignView], audit_date: dt.date, *, root: str = "", static: bool = False
) -> str:
    """The campaigns page; ``root``: the way back to the scorecard page from this page's URL (``""`` or ``"../"``).

    ``static``: the pages are files beside each other (``teams/<name>.html``), as ``page.static`` writes them.
    """
    from oncall_readiness.report.html import TEMPLATES

    return TEMPLATES.get_template("page_campaigns.html.j2").render(
        campaigns=campaigns, audit_date=audit_date, site=Site(root, static)
    )


def render_groups_page(tree: GroupTree, *, root: str = "", static: bool = False) -> str:
    """The group tree (``tree.focus`` None) or one group's drill-down."""
    from oncall_readiness.report.html import TEMPLATES

    return TEMPLATES.get_template("page_groups.html.j2").render(
        tree=tree, site=Site(root, static), max_depth=TREE_DEPTH
    )
