"""The registry read through Backstage's catalog API at N teams: requests against the floor, and time.

``python -m benchmarks.registry_api --teams 2000`` writes the synthetic organisation's catalog
(``benchmarks/layout.py``: each team's Group, Users and Components), serves it with the sandbox's
Backstage emulator (a subprocess, every request held to ``--latency-ms``, as the audit's benchmark
does) and loads the registry through it as ``load_registry`` does for ``backstage_default``. It
reports the requests the client made and the emulator received against the floor
(``floors.backstage_requests``: one query for the three kinds, ``ceil(entities / page size)``
pages), the time, and whether the tables are those of the same catalog's files.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks import floors
from benchmarks.layout import catalog_entities
from benchmarks.org import Organisation
from oncall_readiness.registry import load_registry
from oncall_readiness.sources.backstage_catalog import PAGE_SIZE, BackstageCatalogClient, load_registry_from_api
from readiness_sandbox.process import running_sandbox

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def write_catalog(teams: int, folder: Path) -> int:
    """The organisation's catalog files (one per team) in ``folder``; the number of entities."""
    folder.mkdir(parents=True, exist_ok=True)
    entities = 0
    for team in Organisation.of(teams).teams:
        docs = catalog_entities(team)
        entities += len(docs)
        (folder / f"{team.name}.yaml").write_text(yaml.dump_all(docs, Dumper=_DUMPER, sort_keys=False))
    return entities


def measure(teams: int, work: Path, *, latency_ms: float = 0.0, page_size: int = PAGE_SIZE) -> dict[str, Any]:
    catalog = work / "catalog"
    entities = write_catalog(teams, catalog)
    with running_sandbox(states={"registry": catalog}, latency_ms=latency_ms, timeout=60 + teams / 10) as sandbox:
        sandbox.request_counts(reset=True)
        client = BackstageCatalogClient(sandbox.token, base_url=sandbox.url("registry"), page_size=page_size)
        started = time.perf_counter()
        registry = load_registry_from_api(client)
        seconds = time.perf_counter() - started
        received = sum(row["requests"] for row in sandbox.request_counts() if row["source"] == "backstage")
    files = load_registry(catalog)
    same = all(
        registry.to_facts()[table]
        .drop(columns="source_file", errors="ignore")
        .equals(frame.drop(columns="source_file", errors="ignore"))
        for table, frame in files.to_facts().items()
    )
    return {
        "teams": teams,
        "entities": entities,
        "page_size": page_size,
        "requests": client.requests_made,
        "received": received,
        "floor": floors.backstage_requests(entities, page_size),
        "seconds": round(seconds, 2),
        "latency_ms": latency_ms,
        "same_tables_as_files": same,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="least round trip of an emulator request")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="readiness-registry-api-") as tmp:
        result = measure(args.teams, Path(tmp), latency_ms=args.latency_ms)
    print(json.dumps(result, indent=2))
    return 0 if result["requests"] == result["floor"] and result["same_tables_as_files"] else 1


if __name__ == "__main__":
    sys.exit(main())
