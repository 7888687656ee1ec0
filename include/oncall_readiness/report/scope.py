"""The services a team's checks did not judge (out of their scope), one line per service.

The runner (``oncall_readiness.checks.runner``) records each service outside a check's
``applies_to`` as a ``pass`` finding whose message starts ``Out of scope:``
(``schema.OUT_OF_SCOPE``); the page and the team email list them, so a team sees why a
service is not counted rather than wonder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from oncall_readiness.schema import OUT_OF_SCOPE

PREFIX = f"{OUT_OF_SCOPE}:"


def not_judged(findings: Iterable[Mapping[Any, Any]]) -> list[dict[str, Any]]:
    """Per subject: the checks that skip it and why (the scope's words), by subject.

    ``findings``: rows of the findings table, by column (as SQLAlchemy or ``DataFrame.to_dict`` gives them).
    """
    by_subject: dict[str, dict[str, Any]] = {}
    for finding in findings:
        message = finding.get("message") or ""
        if finding.get("outcome") != "pass" or not message.startswith(PREFIX):
            continue
        why = message.split(" is not judged, ", 1)[-1]
        entry = by_subject.setdefault(finding["subject"], {"subject": finding["subject"], "checks": [], "why": why})
        entry["checks"].append(finding["check_id"])
    return [{**entry, "checks": sorted(entry["checks"])} for _, entry in sorted(by_subject.items())]
