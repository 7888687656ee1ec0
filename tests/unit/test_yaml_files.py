"""Every YAML file of the audit is read the same safe way: a key twice, a tag, an alias bomb are refused by line.

Each case is the sample organisation with one such line added to one file: the catalog, the
waivers file, a Group's waivers annotation, the campaigns file.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

import pytest

from oncall_readiness import campaigns, yaml_files
from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.errors import CampaignError, ConfigError, RegistryError, WaiverError
from oncall_readiness.registry import load_registry
from oncall_readiness.waivers import load_waivers, waivers_path
from readiness_sandbox.sample_org import CATALOG

# Nine levels of nine aliases: 9^8 strings once expanded (the probe's bomb took 21 s and ended in MemoryError).
BOMB = "\n".join(['    - &l0 "lol"', *(f"    - &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9))])


def load_all(folder: Path) -> None:
    """What load_registry does with the catalog and the files beside it."""
    registry = load_registry(folder)
    load_waivers(registry, load_catalogue(), waivers_path(folder))
    campaigns.load_for_audit(folder, registry.teams, registry.services)


def sample(tmp_path: Path) -> Path:
    folder = tmp_path / "catalog"
    shutil.copytree(CATALOG, folder)
    return folder


def edit(path: Path, before: str, after: str) -> None:
    text = path.read_text()
    assert before in text, f"the sample organisation changed: {before!r} is not in {path.name}"
    path.write_text(text.replace(before, after, 1))


WAIVER = "  - check: chaos-day\n    team: notifications\n"
CAMPAIGN = "    start: 2026-11-02\n    due: 2026-12-14\n"
GROUP = "  name: payments\n"


@pytest.mark.parametrize(
    ("file", "before", "after", "error", "where"),
    [
        (
            "readiness-waivers.yaml",
            WAIVER,
            WAIVER + "    check: security-scan\n",
            WaiverError,
            "readiness-waivers.yaml:8",
        ),
        ("readiness-campaigns.yaml", CAMPAIGN, CAMPAIGN + "    due: 2099-12-31\n", CampaignError, "campaigns.yaml:13"),
        ("payments.yaml", GROUP, GROUP + "  name: checkout\n", RegistryError, "payments.yaml:7"),
    ],
    ids=["waiver", "campaign", "catalog"],
)
def test_a_key_written_twice_is_refused_with_its_line(tmp_path, file, before, after, error, where):
    folder = sample(tmp_path)
    edit(folder / file, before, after)
    with pytest.raises(error, match=rf"{where}: key '\w+' is written twice in one mapping \(first on line \d+\)"):
        load_all(folder)


def test_a_key_written_twice_in_a_groups_waivers_annotation_is_refused(tmp_path):
    folder = sample(tmp_path)
    annotation = (
        "    readiness/waivers: |\n      - check: chaos-day\n        check: security-scan\n        reason: x\n"
        "        approver: dana.lee@example.com\n        approved: 2026-11-01\n        expires: 2026-11-30\n"
    )
    edit(folder / "payments.yaml", "  annotations:\n", "  annotations:\n" + annotation)
    with pytest.raises(WaiverError, match=r"Group 'payments' metadata.annotations.readiness/waivers: line 2: key"):
        load_all(folder)


@pytest.mark.parametrize(
    ("file", "before", "field"),
    [
        ("readiness-waivers.yaml", WAIVER, "    reason:\n"),
        ("readiness-campaigns.yaml", "    title: Sustainable rotations before the holiday freeze\n", "    tags:\n"),
        ("payments.yaml", "  annotations:\n", "  labels:\n    bomb:\n"),
    ],
    ids=["waiver", "campaign", "catalog"],
)
def test_an_alias_bomb_is_refused_before_it_is_expanded(tmp_path, file, before, field):
    folder = sample(tmp_path)
    if file == "readiness-waivers.yaml":  # replace the entry's reason by the bomb
        edit(folder / file, "    reason: The team is moving", "    note: The team is moving")
    edit(folder / file, before, before + field + BOMB + "\n")
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"YAML aliases expand this document by more than 10000 nodes; refused"):
        load_all(folder)
    assert time.monotonic() - started < 10  # refused from its nodes, not after expanding 43 million strings


@pytest.mark.parametrize("tagged", ["!!python/object:os.system []", "!Ref checkout", "!!binary aGVsbG8=", "!!str 5"])
def test_an_explicit_tag_is_refused(tmp_path, tagged):
    folder = sample(tmp_path)
    edit(folder / "readiness-campaigns.yaml", CAMPAIGN, CAMPAIGN + f"    notes: {tagged}\n")
    with pytest.raises(CampaignError, match=r"readiness-campaigns.yaml:13: explicit tag .* refused"):
        load_all(folder)


def test_plain_yaml_with_a_few_aliases_and_merge_keys_loads():
    node, value = yaml_files.document("base: &b {a: 1}\nx:\n  <<: *b\n  c: '2'\nwhen: 2026-11-16\n")
    assert value == {"base": {"a": 1}, "x": {"a": 1, "c": "2"}, "when": dt.date(2026, 11, 16)}
