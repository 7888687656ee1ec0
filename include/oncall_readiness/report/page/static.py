"""The Readiness page as static files: what ``make demo`` leaves in ``out/`` and the screenshots are taken from.

The same views and templates as the plugin serves, written beside each other so every link resolves
on disk: ``index.html`` (the scorecard), ``teams/<team>.html``, ``campaigns.html``, ``groups.html`` and
``groups/<group>.html``. A file's name is the page's quoted name (``Site.href`` links to it); links
into Airflow (DAG runs) are left out, as there is no Airflow beside the files.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import quote

from oncall_readiness.report.page.campaigns import (
    GroupTree,
    campaigns_view,
    group_tree,
    render_campaigns_page,
    render_groups_page,
)
from oncall_readiness.report.page.incidents import open_incidents, team_insights
from oncall_readiness.report.page.queries import organisation_scorecard, team_report
from oncall_readiness.report.page.render import render_scorecard_page, render_team_page
from oncall_readiness.report.page.views import Site
from oncall_readiness.warehouse import Warehouse


def write_static_pages(warehouse: Warehouse, folder: Path) -> list[Path]:
    """Every page of the latest audit into ``folder``; the files written (none before the first audit)."""
    card = organisation_scorecard(warehouse)
    if card is None:
        return []
    day: dt.date = card.audit_date
    written = [_write(folder / "index.html", render_scorecard_page(card, latest_runs=[], site=Site(static=True)))]
    for team in card.teams:
        report = team_report(warehouse, team.team)
        if report is None:
            continue
        body = render_team_page(
            report,
            scorecard_href="../index.html",
            incidents=team_insights(warehouse, team.team, report.audit_date),
            open_incidents=open_incidents(warehouse, team.team),
            static=True,
        )
        written.append(_write(folder / "teams" / f"{quote(team.team, safe='')}.html", body))
    views = campaigns_view(warehouse, day)
    written.append(_write(folder / "campaigns.html", render_campaigns_page(views, day, static=True)))
    tree = group_tree(warehouse, day)
    if tree is not None:
        written.append(_write(folder / "groups.html", render_groups_page(tree, static=True)))
        for name in _group_names(tree):
            focused = group_tree(warehouse, day, focus=name)
            if focused is not None:
                page = render_groups_page(focused, root="../", static=True)
                written.append(_write(folder / "groups" / f"{quote(name, safe='')}.html", page))
    return written


def _group_names(tree: GroupTree) -> list[str]:
    """Every group of the tree, walked (not recursed: a tree may be hundreds of levels deep)."""
    names, stack = [], list(tree.roots)
    while stack:
        node = stack.pop()
        names.append(node.name)
        stack += node.children
    return names


def _write(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path
