"""How the audit's cost grows with the organisation: API requests, collection and check time.

    uv run python benchmarks/audit_scaling.py [--teams 10 100 400]

For each size it generates an organisation (7 people, one weekly schedule, one escalation
policy and 3 services per team), serves it from the sandbox on loopback, collects it with
the PagerDuty client and evaluates rotation-sustainability. The request count should grow with API
pages (users / 100 + schedules / 100 + ...), not with teams × checks.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from oncall_readiness.checks.catalogue import Catalogue, load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.sources.pagerduty import AuditWindow, PagerDutyClient, collect
from readiness_sandbox.process import running_sandbox

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
# The checks that read PagerDuty alone; the other sources are measured by their own tests.
ROTATION_ONLY = Catalogue(
    checks={"rotation-sustainability": load_catalogue().checks["rotation-sustainability"]},
    status_scores=load_catalogue().status_scores,
)
WINDOW = AuditWindow(since=(INSTANT - pd.Timedelta(days=28)).to_pydatetime(), until=INSTANT.to_pydatetime())


def organisation(teams: int) -> tuple[dict, dict[str, pd.DataFrame]]:
    """A PagerDuty account state and the matching registry facts."""
    users, schedules, policies, services, people, links = [], [], [], [], [], []
    for t in range(teams):
        team = f"team-{t:04d}"
        members = [f"PU{t:04d}{m}" for m in range(7)]
        for m, user_id in enumerate(members):
            email = f"person{t}.{m}@example.com"
            users.append({"id": user_id, "name": f"Person {t}.{m}", "email": email, "time_zone": "UTC"})
            people.append(
                {
                    "person": f"p-{t}-{m}",
                    "display_name": None,
                    "email": email,
                    "team": team,
                    "start_date": None,
                    "oncall_exempt": None,
                }
            )
        layer = {
            "id": f"PL{t:05d}",
            "name": "Layer 1",
            "start": "2026-01-05T09:00:00Z",
            "end": None,
            "rotation_virtual_start": "2026-01-05T09:00:00Z",
            "rotation_turn_length_seconds": 604800,
            "users": members[: 3 + t % 5],
            "restrictions": [],
        }
        schedules.append(
            {"id": f"PS{t:05d}", "name": f"{team} primary", "time_zone": "UTC", "teams": [], "layers": [layer]}
        )
        policies.append(
            {
                "id": f"PE{t:05d}",
                "name": team,
                "num_loops": 0,
                "teams": [],
                "rules": [
                    {"escalation_delay_in_minutes": 30, "targets": [{"type": "schedule_reference", "id": f"PS{t:05d}"}]}
                ],
            }
        )
        services += [
            {
                "id": f"PV{t:04d}{s}",
                "name": f"{team}-svc-{s}",
                "status": "active",
                "created_at": "2025-01-01T00:00:00Z",
                "escalation_policy": f"PE{t:05d}",
                "teams": [],
            }
            for s in range(3)
        ]
        links.append({"team": team, "schedule_id": f"PS{t:05d}"})
    state = {"users": users, "schedules": schedules, "escalation_policies": policies, "services": services}
    registry = {
        "registry_teams": pd.DataFrame({"team": [f"team-{t:04d}" for t in range(teams)], "opsgenie_team": None}),
        "registry_people": pd.DataFrame(people),
        "registry_team_schedules": pd.DataFrame(links),
        "registry_thresholds": pd.DataFrame(columns=["team", "check_id", "key", "value"]),
    }
    return state, registry


def measure(teams: int) -> dict:
    state, registry = organisation(teams)
    with running_sandbox(states={"pagerduty": state}, timeout=120) as sandbox:
        client = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))
        started = time.perf_counter()
        facts = collect(client, WINDOW, schedule_ids=registry["registry_team_schedules"]["schedule_id"])
        collected = time.perf_counter() - started
    started = time.perf_counter()
    results, findings = evaluate_checks(
        audit_instant=INSTANT, facts={**facts, **registry}, unavailable={}, catalogue=ROTATION_ONLY
    )
    checked = time.perf_counter() - started
    return {
        "teams": teams,
        "users": len(state["users"]),
        "requests": client.requests_made,
        "collect_s": round(collected, 2),
        "checks_s": round(checked, 3),
        "results": len(results),
        "findings": len(findings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, nargs="+", default=[10, 100, 400])
    args = parser.parse_args()
    rows = [measure(n) for n in args.teams]
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
