"""Generate docs/checks.md from checks.yaml: `python -m oncall_readiness.checks.docs > docs/checks.md`."""

from __future__ import annotations

import sys

from oncall_readiness.checks.catalogue import THRESHOLD_ANNOTATION, Catalogue, load_catalogue
from oncall_readiness.oncall_facts import PLATFORMS


def render(catalogue: Catalogue) -> str:
    scores = ", ".join(f"{status} {score:g}" for status, score in catalogue.status_scores.items())
    lines = [
        "# Checks",
        "",
        "<!-- Generated from include/oncall_readiness/checks/checks.yaml by `make docs`; do not edit. -->",
        "",
        f"Each check gives every team a status (pass, warn, fail, unknown, waived) and a score ({scores};",
        "none when unknown or waived), a one-sentence reason, remediation, and findings per subject.",
        "A check whose source is down or fails validation is `unknown`, never a pass or a fail.",
        f"Per-team thresholds are overridden with the Group annotation `{THRESHOLD_ANNOTATION}`.",
        "A check with **Applies to** judges only the services its scope selects (Component `spec.lifecycle`,",
        "`spec.type`, annotation `readiness/tier`); each other service gets a `pass` finding starting `Out of scope:`.",
        f"A waiver ([waivers.md](waivers.md)) turns a fail or warn into `waived`, "
        f"for {catalogue.max_waiver_days} days at most.",
        "The on-call checks read the platform-neutral on-call facts",
        "([architecture.md](architecture.md#on-call-platforms)): a team is judged on its own on-call platform",
        "(PagerDuty, or JSM Operations with `atlassian.com/jsm-ops-team`); a platform that is down or fails",
        "validation makes the check `unknown` for its teams only, and what a platform cannot give (each check's",
        "**On-call platforms**) is `unknown` for them, while a certain fail stands.",
        "External checks (results a scanner or a pipeline pushes) are the organisation's own, declared beside",
        "its catalog with who may push them: [api.md](api.md#external-checks).",
        *_level_requirements(catalogue),
        "",
        "| id | title | status | weight | sources |",
        "|---|---|---|---|---|",
    ]
    for check in catalogue.checks.values():
        sources = ", ".join(check.sources)
        lines.append(f"| [`{check.id}`](#{check.id}) | {check.title} | {check.status} | {check.weight:g} | {sources} |")
    for check in catalogue.checks.values():
        lines += ["", f"## {check.id}", "", f"**{check.title}** ({check.status}, weight {check.weight:g})", ""]
        if check.applies_to:
            lines += [f"**Applies to** services with {_scope(check.applies_to)}.", ""]
        if check.kind == "external":
            lines += [
                "**External**: its results are computed elsewhere and pushed through the readiness API"
                " ([api.md](api.md)); the audit reads the latest result per team and subject observed"
                " up to its instant.",
                "",
            ]
        lines += [check.rationale, "", "| status | when |", "|---|---|"]
        lines += [f"| {status} | {text} |" for status, text in check.rubric.items()]
        if check.platforms:
            lines += ["", "**On-call platforms.**", "", "| platform | what is read and judged |", "|---|---|"]
            lines += [f"| {PLATFORMS[name].title} | {text} |" for name, text in check.platforms.items()]
        lines += ["", f"**Remediation.** {check.remediation}", ""]
        if check.thresholds:
            lines += ["| threshold | default | per team | meaning |", "|---|---|---|---|"]
            lines += [
                f"| `{t.name}` | {t.default} | {'yes' if t.per_team else 'no'} | {t.description} |"
                for t in check.thresholds.values()
            ]
        else:
            lines.append("No thresholds.")
    return "\n".join(lines) + "\n"


def _scope(scope: dict[str, tuple[str, ...]]) -> str:
    return " and ".join(f"{key} {' or '.join(f'`{value}`' for value in values)}" for key, values in scope.items())


def _level_requirements(catalogue: Catalogue) -> list[str]:
    return [
        f"A team owning services with {_scope(r.services)} holds `{r.level}` only if it passes "
        f"{', '.join(f'`{c}`' for c in r.must_pass)} (or they are waived)."
        for r in catalogue.level_requirements
    ]


if __name__ == "__main__":
    sys.stdout.write(render(load_catalogue()))
