"""What a catalog may not say: two owners for one PagerDuty service, a Group its own ancestor; a deep tree is fine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from oncall_readiness.errors import RegistryError
from oncall_readiness.registry import load_registry
from oncall_readiness.registry.groups import ancestors, audited_teams, teams_under
from oncall_readiness.report.page.campaigns import GroupNode, GroupTeam, GroupTree, _all_members, render_groups_page


def group(name: str, parent: str | None = None) -> dict:
    spec = {"type": "team", "children": [], **({"parent": parent} if parent else {})}
    return {"apiVersion": "backstage.io/v1alpha1", "kind": "Group", "metadata": {"name": name}, "spec": spec}


def component(name: str, owner: str, service_id: str) -> dict:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name, "annotations": {"pagerduty.com/service-id": service_id}},
        "spec": {"type": "service", "lifecycle": "production", "owner": f"group:{owner}"},
    }


def catalog(folder: Path, *entities: dict) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "catalog.yaml").write_text(yaml.safe_dump_all(entities, sort_keys=False))
    return folder


def test_two_components_may_not_claim_one_pagerduty_service(tmp_path):
    folder = catalog(
        tmp_path / "c", group("payments"), group("checkout"), component("pay-api", "payments", "PSVC1"),
        component("checkout-api", "checkout", "PSVC1"),
    )  # fmt: skip
    with pytest.raises(RegistryError) as raised:
        load_registry(folder)
    file = folder / "catalog.yaml"
    assert raised.value.problems == [
        f"{file}: Component 'checkout-api' metadata.annotations.pagerduty.com/service-id: PagerDuty service "
        f"PSVC1 is claimed by Component 'pay-api' too ({file}): one Component per PagerDuty service"
    ]


def test_a_cycle_of_parent_groups_is_named_once(tmp_path):
    folder = catalog(tmp_path / "c", group("a", "c"), group("b", "a"), group("c", "b"), group("d", "a"))
    with pytest.raises(RegistryError) as raised:
        load_registry(folder)
    (problem,) = raised.value.problems
    assert problem.endswith("Group 'a' spec.parent: a cycle of parent groups: a -> c -> b -> a")


def test_a_tree_three_hundred_levels_deep_loads_walks_and_renders(tmp_path):
    names = [f"level-{i:03d}" for i in range(300)]
    entities = [group(name, names[i - 1] if i else None) for i, name in enumerate(names)]
    registry = load_registry(catalog(tmp_path / "c", *entities, component("svc", names[-1], "PSVC1")))
    assert teams_under(names[0], registry.teams) == names  # every group at or below the root
    assert ancestors(names[-1], registry.teams) == names[-2::-1]
    assert list(audited_teams(registry.teams, registry.services)["team"]) == [names[-1]]
    nodes = [GroupNode(name, f"groups/{name}", "team", 80.0, "silver", 1, 1, None) for name in names[:-1]]
    for parent, child in zip(nodes, nodes[1:], strict=False):
        child.parent = parent.name
        parent.children.append(child)
    nodes[-1].members.append(GroupTeam(names[-1], f"teams/{names[-1]}", 80.0, "silver", 0))
    assert [team.team for team in _all_members(nodes[0])] == [names[-1]]
    page = render_groups_page(GroupTree(dt.date(2026, 11, 16), [nodes[0]], []))
    assert 'data-group="level-005"' in page and "level-006" in page and "level-007" not in page
    assert 'href="groups/level-006"' in page  # the first group not drawn is a link to its own page
