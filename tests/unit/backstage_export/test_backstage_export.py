"""The score-card export: the plugin's shape (its own sample data and types), what each file says, where it goes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from oncall_readiness.backstage_export import BOARD, MANIFEST, scorecard_files, write_export
from oncall_readiness.registry import load_registry
from readiness_sandbox.sample_org import CATALOG

REFERENCE = Path(__file__).resolve().parents[2] / "reference" / "score_card"
INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
REGISTRY = load_registry(CATALOG).to_facts()


def plugin_enum() -> set[str]:
    """ScoreSuccessEnum's values (types.ts), and the "unknown" the plugin's own sample data uses."""
    types = (REFERENCE / "src" / "api" / "types.ts").read_text()
    block = re.search(r"enum ScoreSuccessEnum \{(.*?)\}", types, re.S).group(1)
    return set(re.findall(r"'([a-z-]+)'", block)) | {"unknown"}


def json_kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}[type(value)]


def sample_shape() -> dict[str, tuple[set[str], dict[str, set[str]]]]:
    """Per level (entity, area, entry): the keys every sample file has, and each key's JSON kinds."""
    levels: dict[str, list[dict[str, Any]]] = {"entity": [], "area": [], "entry": []}
    for path in (REFERENCE / "sample-data" / "default").rglob("*.json"):
        entity = json.loads(path.read_text())
        levels["entity"].append(entity)
        for area in entity["areaScores"]:
            levels["area"].append(area)
            levels["entry"] += area["scoreEntries"]
    shape = {}
    for level, objects in levels.items():
        always = set.intersection(*(set(o) for o in objects))
        kinds: dict[str, set[str]] = {}
        for o in objects:
            for key, value in o.items():
                kinds.setdefault(key, set()).add(json_kind(value))
        shape[level] = (always, kinds)
    return shape


def results(rows: list[tuple[str, str, str, float | None, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(team, check, status, score, reason, f"Fix {check}.") for team, check, status, score, reason in rows],
        columns=["team", "check_id", "status", "score", "reason", "remediation"],
    )


CHECK_RESULTS = results(
    [
        ("payments", "runbook-freshness", "pass", 10.0, "Every runbook is fresh."),
        ("payments", "alert-definitions", "warn", 5.0, "One rule lacks a runbook_url."),
        ("payments", "chaos-day", "unknown", None, "The calendar could not be read."),
        ("checkout", "runbook-freshness", "fail", 0.0, "checkout-api has no runbook."),
        ("checkout", "alert-definitions", "waived", None, "Waived until 2026-12-01 by cto@example.com."),
    ]
)
FINDINGS = pd.DataFrame(
    [
        ("payments", "runbook-freshness", "service:payments-api", "pass", "payments-api's runbook is 2 days old"),
        ("payments", "alert-definitions", "service:payments-api", "warn", "Rule HighLatency has no runbook_url"),
        (
            "payments",
            "alert-definitions",
            "service:payments-sandbox",
            "pass",
            "Out of scope: payments-sandbox is not judged",
        ),
        ("checkout", "runbook-freshness", "service:checkout-api", "fail", "checkout-api has no runbook"),
    ],
    columns=["team", "check_id", "subject", "outcome", "message"],
)
SCORECARD = pd.DataFrame([("payments", 75.0, "silver"), ("checkout", 0.0, "none")], columns=["team", "score", "level"])
ROLLUP = pd.DataFrame([("commerce", 37.5, "none")], columns=["group_name", "score", "level"])


@pytest.fixture(scope="module")
def files() -> dict[str, dict[str, Any]]:
    return scorecard_files(
        generated=INSTANT,
        registry=REGISTRY,
        check_results=CHECK_RESULTS,
        findings=FINDINGS,
        scorecard=SCORECARD,
        rollup=ROLLUP,
    )


def test_every_file_has_the_plugins_sample_data_shape(files):
    shape = sample_shape()
    success = plugin_enum()
    entities = [body for name, body in files.items() if name != BOARD]
    assert entities
    for entity in entities:
        objects = {"entity": [entity], "area": entity["areaScores"], "entry": []}
        objects["entry"] = [entry for area in entity["areaScores"] for entry in area["scoreEntries"]]
        for level, found in objects.items():
            always, kinds = shape[level]
            for o in found:
                # every key the sample always has, except a score where there is none (as the sample's unknowns)
                assert always - {"scorePercent", "scoringReviewer", "scoringReviewDate"} <= set(o), (level, o)
                assert set(o) <= set(kinds), (level, set(o) - set(kinds))
                assert all(json_kind(v) in kinds[k] for k, v in o.items()), (level, o)
                assert o["scoreSuccess"] in success
        assert set(entity["entityRef"]) == {"kind", "namespace", "name"}


def test_paths_are_what_the_plugin_fetches(files):
    """``${jsonDataUrl}${namespace}/${kind}/${name}.json``, lower-cased: one per scored Group and per Component."""
    groups = {f"default/group/{team}.json" for team in ["payments", "checkout", "commerce"]}
    components = {f"default/component/{service.lower()}.json" for service in REGISTRY["registry_services"]["service"]}
    assert set(files) == groups | components | {BOARD}
    for name, body in files.items():
        if name != BOARD:
            ref = body["entityRef"]
            assert name == f"{ref['namespace']}/{ref['kind']}/{ref['name']}.json".lower()
            assert body["generatedDateTimeUtc"] == "2026-11-16T00:00:00Z"


def test_a_team_file_is_its_level_and_one_area_per_check(files):
    payments = files["default/group/payments.json"]
    assert (payments["scorePercent"], payments["scoreLabel"], payments["scoreSuccess"]) == (
        75,
        "Silver",
        "almost-success",
    )
    areas = {area["title"]: area for area in payments["areaScores"]}
    assert [(a["scoreLabel"], a["scoreSuccess"], a.get("scorePercent")) for a in areas.values()] == [
        ("pass", "success", 100),
        ("warn", "partial", 50),
        ("unknown", "unknown", None),  # never a score, never a pass
    ]
    alerts = next(a for a in payments["areaScores"] if a["scoreLabel"] == "warn")
    assert [(e["title"], e["scoreSuccess"], e["scoreHints"]) for e in alerts["scoreEntries"]] == [
        ("payments-api (service)", "partial", "Rule HighLatency has no runbook_url"),
        ("payments-sandbox (service)", "success", "Out of scope: payments-sandbox is not judged"),
    ]
    assert (
        alerts["scoreEntries"][0]["details"] == "Fix alert-definitions." and alerts["scoreEntries"][1]["details"] == ""
    )
    checkout = files["default/group/checkout.json"]
    assert (checkout["scoreLabel"], checkout["scoreSuccess"]) == ("No level", "failure")
    waived = next(a for a in checkout["areaScores"] if a["scoreLabel"] == "waived")
    assert waived["scoreSuccess"] == "almost-success" and "scorePercent" not in waived


def test_a_parent_group_shows_its_teams(files):
    commerce = files["default/group/commerce.json"]
    assert (commerce["scorePercent"], commerce["scoreLabel"]) == (38, "No level")
    assert [(a["title"], a["scorePercent"]) for a in commerce["areaScores"]] == [("Checkout", 0), ("Payments", 75)]


def test_a_component_is_scored_by_the_checks_that_judged_it(files):
    api = files["default/component/payments-api.json"]
    assert (api["scorePercent"], api["scoreLabel"], api["scoreSuccess"]) == (75, "warn", "partial")
    titles = [(a["scoreLabel"], a.get("scorePercent")) for a in api["areaScores"]]
    assert titles == [("pass", 100), ("warn", 50), ("unknown", None)]  # the team's unknown check, said so
    assert api["areaScores"][2]["scoreEntries"][0]["scoreHints"].startswith("The team's result: The calendar")
    sandbox = files["default/component/payments-sandbox.json"]  # out of scope of its one check: not judged
    assert "scorePercent" not in sandbox and (sandbox["scoreLabel"], sandbox["scoreSuccess"]) == (
        "not judged",
        "unknown",
    )


def test_the_board_lists_every_entity_without_entries(files):
    board = files[BOARD]["entities"]
    assert len(board) == len(files) - 1
    assert all("scoreEntries" not in area for row in board for area in row["areaScores"])


def test_files_are_written_and_a_backfill_leaves_a_later_export(files, tmp_path):
    assert write_export(files, "2026-11-16", str(tmp_path)) == len(files)
    written = json.loads((tmp_path / "default" / "group" / "payments.json").read_text())
    assert written == files["default/group/payments.json"]
    assert isinstance(json.loads((tmp_path / BOARD).read_text()), list)  # the plugin reads all.json as a list
    assert json.loads((tmp_path / MANIFEST).read_text())["audit_date"] == "2026-11-16"
    assert write_export(files, "2026-11-09", str(tmp_path)) == 0  # an older date: the latest stays
    assert write_export(files, "2026-11-16", str(tmp_path)) == len(files)  # a rerun of the date rewrites
    assert not list(tmp_path.rglob("*.tmp"))
