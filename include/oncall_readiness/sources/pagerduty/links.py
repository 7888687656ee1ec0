"""``pagerduty_links``: the PagerDuty web page (``html_url``) and name of what a finding is about.

From the objects the collection read anyway (no extra request): each schedule
(``schedule:<id>``), escalation policy (``escalation_policy:<id>``), user
(``pagerduty-user:<id>``) and service (``pagerduty-service:<id>``); and, through the
registry, each person (``person:<name>``, by email) and service (``service:<name>``, by its
``pagerduty.com/service-id``) as the checks name them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from oncall_readiness.sources.facts import links_frame

# The subject prefix of each collection, as the checks write it.
OBJECT_SUBJECTS = {
    "schedules": "schedule",
    "policies": "escalation_policy",
    "users": "pagerduty-user",
    "services": "pagerduty-service",
}


def object_links(account: Mapping[str, Iterable[dict[str, Any]]]) -> pd.DataFrame:
    """The links of the account's schedules, escalation policies, users and services."""
    rows = [
        {
            "subject": f"{prefix}:{obj.get('id')}",
            "name": obj.get("name") or obj.get("summary"),
            "url": obj.get("html_url"),
        }
        for collection, prefix in OBJECT_SUBJECTS.items()
        for obj in account.get(collection, ())
        if obj.get("id")
    ]
    return links_frame(rows)


def registry_links(links: pd.DataFrame, users: pd.DataFrame, registry: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """``links`` with the registry's people and services linked to their PagerDuty user and service."""
    by_subject = links.set_index("subject")
    rows: list[dict[str, Any]] = []
    emails = dict(zip(users["email"].str.lower(), users["user_id"], strict=False))
    for person, email in zip(registry["registry_people"]["person"], registry["registry_people"]["email"], strict=False):
        user = emails.get(str(email).lower()) if pd.notna(email) else None
        subject = f"pagerduty-user:{user}"
        if user and subject in by_subject.index:
            rows.append({"subject": f"person:{person}", **_link(by_subject, subject)})
    services = registry["registry_services"][["service", "pagerduty_service_id"]].dropna()
    for service, service_id in zip(services["service"], services["pagerduty_service_id"], strict=False):
        subject = f"pagerduty-service:{service_id}"
        if subject in by_subject.index:
            rows.append({"subject": f"service:{service}", **_link(by_subject, subject)})
    return links_frame([*(dict(zip(links.columns, row, strict=True)) for row in links.itertuples(index=False)), *rows])


def _link(by_subject: pd.DataFrame, subject: str) -> dict[str, Any]:
    return {"name": by_subject.at[subject, "name"], "url": by_subject.at[subject, "url"]}
