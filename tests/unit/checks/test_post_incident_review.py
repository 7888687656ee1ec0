"""post-incident-review over small organisations: incidents, review pages and action items by eye.

The audit instant is Monday 2026-11-16T00:00Z. With 5 business days, an incident resolved on
Friday 2026-11-06 at noon is due a review since Friday 2026-11-13 at noon; one resolved on
Monday 2026-11-09 at noon is not due until the Monday after, at noon.
Team ``shop`` owns service PSHOP01; its review space is ``SHOP``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.checks.post_incident_review import review_tables
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.source_catalogue import with_oncall_facts
from oncall_readiness.sources.confluence_reviews import FACT_COLUMNS as REVIEW_COLUMNS
from oncall_readiness.sources.confluence_reviews import review_refs
from oncall_readiness.sources.facts import typed_frame
from oncall_readiness.sources.jira import FACT_COLUMNS as JIRA_COLUMNS
from oncall_readiness.sources.jsm_ops.facts import FACT_COLUMNS as JSM_COLUMNS
from oncall_readiness.sources.pagerduty.facts import FACT_COLUMNS as PAGERDUTY_COLUMNS

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
CHECK = "post-incident-review"
INCIDENT = "Q1SHOPINCIDENT1"
ALERT = "9b251e07-73c9-4907-9996-8cb53a6a20d0-1704440650350"  # a JSM Operations alert id
JSM_TEAM = "3f6e1a2b-7c4d-4e5f-8a9b-000000000001"


def incident(incident_id=INCIDENT, *, number=1234, resolved="2026-11-06T12:00:00Z", urgency="high", priority=None):
    return {
        "incident_id": incident_id,
        "incident_number": number,
        "title": "Checkout answers 500",
        "service_id": "PSHOP01",
        "urgency": urgency,
        "priority": priority,
        "created_at": (pd.Timestamp(resolved) - pd.Timedelta(hours=1)).isoformat(),
        "resolved_at": resolved,
    }


def review(body, *, page_id="1", created="2026-11-12T09:00:00Z", restricted=False, space="SHOP"):
    refs = review_refs(body)
    return {
        "page_id": page_id,
        "space": space,
        "title": "Checkout 500s: what we learned",
        "url": f"https://example.atlassian.net/wiki/spaces/{space}/pages/{page_id}/Review",
        "created": created,
        "last_modified": created,
        "restricted": restricted,
        **{column: ",".join(values) for column, values in refs.items()},
        "search": "label in (postmortem)",
    }


def action(key, *, due=None, category="indeterminate", assignee="Liam Walsh", found=True):
    return {
        "key": key,
        "found": found,
        "summary": f"Fix {key}",
        "status": {"done": "Done", "new": "To Do"}.get(category, "In Progress"),
        "status_category": category,
        "assignee": assignee,
        "due": dt.date.fromisoformat(due) if due else None,
        "resolved": None,
        "url": f"https://example.atlassian.net/browse/{key}",
        "error": None if found else "does not exist",
    }


def facts_of(incidents, reviews=(), actions=(), *, review_space="SHOP", overrides=(), platform="pagerduty"):
    """Shop's facts on ``platform``: PagerDuty's incidents of PSHOP01, or JSM Operations' alerts routed
    to shop's JSM team (``incidents`` then JSM alerts as ``jsm_ops_incidents`` rows); the on-call facts
    made of them as the audit makes them."""
    on_pagerduty = platform == "pagerduty"
    facts = {
        "registry_teams": pd.DataFrame(
            {
                "team": ["shop"],
                "parent": [None],
                "review_space": [review_space],
                "oncall_platform": [platform],
                "jsm_ops_team": [None if on_pagerduty else JSM_TEAM],
            }
        ),
        "registry_services": pd.DataFrame(
            {"service": ["checkout"], "team": ["shop"], "pagerduty_service_id": ["PSHOP01" if on_pagerduty else None]}
        ),
        "registry_thresholds": pd.DataFrame(
            [("shop", CHECK, key, value) for key, value in overrides], columns=["team", "check_id", "key", "value"]
        ),
        "confluence_reviews": typed_frame(reviews, REVIEW_COLUMNS["confluence_reviews"]),
        "jira_action_items": typed_frame(actions, JIRA_COLUMNS["jira_action_items"]),
    }
    if on_pagerduty:
        facts["pagerduty_incidents"] = typed_frame(incidents, PAGERDUTY_COLUMNS["pagerduty_incidents"])
        facts["pagerduty_priorities"] = pd.DataFrame(
            {"priority_id": ["P1ID", "P2ID", "P3ID"], "name": ["P1", "P2", "P3"], "position": [1, 2, 3]}
        )
    else:
        facts |= {table: typed_frame([], columns) for table, columns in JSM_COLUMNS.items()}
        facts["jsm_ops_incidents"] = typed_frame(incidents, JSM_COLUMNS["jsm_ops_incidents"])
        facts["jsm_ops_priorities"] = typed_frame(
            [{"priority_id": f"P{n}", "name": f"P{n}", "position": n} for n in range(1, 6)],
            JSM_COLUMNS["jsm_ops_priorities"],
        )
    return with_oncall_facts(facts)


def alert(*, tiny_id="77", resolved="2026-11-06T12:00:00Z", priority="P1", team="shop"):
    """A JSM Operations alert routed to shop's team, as the JSM source gives it."""
    return {
        "incident_id": ALERT,
        "incident_number": tiny_id,
        "title": "Sign-in outage",
        "url": f"https://example.atlassian.net/jira/ops/alerts/{ALERT}",
        "service_id": JSM_TEAM,
        "team": team,
        "urgency": "high" if priority in ("P1", "P2", "P3") else "low",
        "priority": priority,
        "created_at": (pd.Timestamp(resolved) - pd.Timedelta(hours=1)).isoformat(),
        "resolved_at": resolved,
    }


def audit(incidents, reviews=(), actions=(), *, unavailable=None, **options):
    facts = facts_of(incidents, reviews, actions, **options)
    catalogue = load_catalogue()
    only = dataclasses.replace(catalogue, checks={CHECK: catalogue.checks[CHECK]})
    results, findings = evaluate_checks(
        audit_instant=INSTANT, facts=facts, unavailable=unavailable or {}, catalogue=only
    )
    return results.set_index("team").loc["shop"], findings.set_index("subject")


def test_no_incident_due_passes():
    result, findings = audit([])
    assert result["status"] == "pass"
    assert "is due a review" in result["reason"]


def test_an_incident_resolved_less_than_five_business_days_ago_is_not_due_yet():
    result, findings = audit([incident(resolved="2026-11-09T12:00:00Z")])
    assert result["status"] == "pass"
    assert findings.at[f"incident:{INCIDENT}", "outcome"] == "pass"
    assert "due 2026-11-16" in findings.at[f"incident:{INCIDENT}", "message"]


def test_a_due_incident_without_a_review_fails_naming_it_its_date_and_title():
    result, findings = audit([incident()])
    assert result["status"] == "fail"
    message = findings.at[f"incident:{INCIDENT}", "message"]
    assert "#1234" in message and "2026-11-06" in message and "Checkout answers 500" in message
    assert result["reason"].startswith("incident #1234")


@pytest.mark.parametrize(
    "body",
    [
        f"<p>Incident {INCIDENT} took checkout down.</p>",
        "<p>Incident #1234 took checkout down.</p>",
        f'<p><a href="https://acme.pagerduty.com/incidents/{INCIDENT}">the incident</a></p>',
    ],
    ids=["by id", "by number", "by URL"],
)
def test_a_review_names_the_incident_by_id_number_or_url(body):
    result, findings = audit([incident()], [review(body)])
    assert result["status"] == "pass", result["reason"]
    assert findings.at[f"incident:{INCIDENT}", "outcome"] == "pass"


def test_a_review_outside_the_teams_review_space_does_not_count():
    result, _ = audit([incident()], [review("<p>#1234</p>", space="OTHER")])
    assert result["status"] == "fail"


def test_without_a_review_space_a_review_anywhere_counts():
    result, _ = audit([incident()], [review("<p>#1234</p>", space="OTHER")], review_space=None)
    assert result["status"] == "pass"


def test_a_review_published_more_than_five_business_days_after_the_resolution_warns():
    # Resolved Friday 2026-11-06 at noon: due Friday 2026-11-13 at noon.
    on_time = review("<p>#1234</p>", created="2026-11-13T11:00:00Z")
    result, _ = audit([incident()], [on_time])
    assert result["status"] == "pass"
    late = review("<p>#1234</p>", created="2026-11-14T09:00:00Z")
    result, findings = audit([incident()], [late])
    assert result["status"] == "warn"
    assert "more than 5 business days" in findings.at[f"incident:{INCIDENT}", "message"]


def test_a_restricted_review_warns():
    result, findings = audit([incident()], [review("<p>#1234</p>", restricted=True)])
    assert result["status"] == "warn"
    assert "readable by fewer than everyone" in findings.at[f"incident:{INCIDENT}", "message"]


def test_an_action_open_past_its_due_date_warns_naming_it_and_its_assignee():
    macro = (
        '<ac:structured-macro ac:name="jira"><ac:parameter ac:name="key">SHOP-7</ac:parameter></ac:structured-macro>'
    )
    body = f"<p>#1234</p>{macro}"
    result, findings = audit([incident()], [review(body)], [action("SHOP-7", due="2026-11-13")])
    assert result["status"] == "warn"
    message = findings.at["action:SHOP-7", "message"]
    assert "SHOP-7" in message and "2026-11-13" in message and "Liam Walsh" in message


def test_an_action_done_or_not_yet_due_passes():
    body = "<p>#1234: SHOP-7 and SHOP-8</p>"
    actions = [action("SHOP-7", due="2026-11-13", category="done"), action("SHOP-8", due="2026-11-20")]
    result, _ = audit([incident()], [review(body)], actions)
    assert result["status"] == "pass"


def test_an_action_without_a_due_date_is_reported_not_judged():
    result, findings = audit([incident()], [review("<p>#1234 SHOP-9</p>")], [action("SHOP-9")])
    assert result["status"] == "pass"
    assert findings.at["action:SHOP-9", "outcome"] == "pass"
    assert "has no due date (not judged)" in findings.at["action:SHOP-9", "message"]


def test_a_low_urgency_incident_without_a_top_priority_needs_no_review():
    result, findings = audit([incident(urgency="low", priority="P3")])
    assert result["status"] == "pass" and f"incident:{INCIDENT}" not in findings.index


def test_a_low_urgency_p2_incident_needs_a_review():
    result, _ = audit([incident(urgency="low", priority="P2")])
    assert result["status"] == "fail"


def test_a_team_may_ask_reviews_only_for_p1():
    result, _ = audit(
        [incident(urgency="high", priority="P2")], overrides=[("high_urgency", "0"), ("max_priority", "1")]
    )
    assert result["status"] == "pass"


def test_an_incident_resolved_more_than_28_days_ago_needs_no_review():
    result, _ = audit([incident(resolved="2026-10-18T00:00:00Z")])
    assert result["status"] == "pass"


def test_confluence_down_makes_the_check_unknown():
    result, _ = audit([incident()], unavailable={"confluence": "GET /wiki/rest/api/search answered 503"})
    assert result["status"] == "unknown" and "503" in result["reason"]


def test_jira_down_makes_the_actions_unknown_but_a_missing_review_still_fails():
    down = {"jira": "POST /rest/api/3/search/jql answered 503"}
    result, findings = audit([incident()], [review("<p>#1234 SHOP-7</p>")], unavailable=down)
    assert result["status"] == "unknown" and "503" in findings.at[f"incident:{INCIDENT}", "message"]
    missing = incident("Q2OTHERINCIDENT", number=99)
    result, _ = audit([incident(), missing], [review("<p>#1234 SHOP-7</p>")], unavailable=down)
    assert result["status"] == "fail"


def test_the_warehouse_tables_hold_the_review_and_its_actions():
    facts = facts_of([incident()], [review("<p>#1234 SHOP-7</p>")], [action("SHOP-7", due="2026-11-13")])
    reviews, actions = review_tables(facts, INSTANT)
    row = reviews.set_index("incident_id").loc[INCIDENT]
    assert row["team"] == "shop" and row["due"] == dt.date(2026, 11, 13)
    assert row["review_url"].endswith("/pages/1/Review") and not row["late"] and not row["restricted"]
    item = actions.set_index("key").loc["SHOP-7"]
    assert (item["incident_id"], item["status"], item["days_overdue"]) == (INCIDENT, "In Progress", 3)


def test_a_due_date_read_back_as_a_timestamp_is_judged_the_same():
    facts_action = action("SHOP-7", due="2026-11-13")
    facts_action["due"] = pd.Timestamp("2026-11-13")  # as a date column can come back from staging
    result, findings = audit([incident()], [review("<p>#1234 SHOP-7</p>")], [facts_action])
    assert result["status"] == "warn" and findings.at["action:SHOP-7", "outcome"] == "warn"


def test_a_jsm_alert_due_a_review_without_one_fails_naming_its_number_and_message():
    result, findings = audit([alert()], platform="jsm_ops")
    assert result["status"] == "fail"
    message = findings.at[f"incident:{ALERT}", "message"]
    assert "#77" in message and "Sign-in outage" in message and "2026-11-06" in message


@pytest.mark.parametrize(
    "body",
    [
        "<p>Alert #77 took sign-in down.</p>",
        f"<p>Alert {ALERT} took sign-in down.</p>",
        f'<p><a href="https://example.atlassian.net/jira/ops/alerts/{ALERT}">the alert</a></p>',
    ],
    ids=["by tiny id", "by id", "by URL"],
)
def test_a_review_names_a_jsm_alert_by_its_tiny_id_id_or_url(body):
    result, findings = audit([alert()], [review(body)], platform="jsm_ops")
    assert result["status"] == "pass", result["reason"]
    assert findings.at[f"incident:{ALERT}", "outcome"] == "pass"


def test_a_jsm_alert_of_low_priority_needs_no_review():
    result, findings = audit([alert(priority="P4")], platform="jsm_ops")
    assert result["status"] == "pass" and f"incident:{ALERT}" not in findings.index


def test_a_jsm_alert_routed_to_another_team_is_not_shops():
    result, _ = audit([alert(team="other")], platform="jsm_ops")
    assert result["status"] == "pass"


def test_the_warehouse_tables_hold_a_jsm_alerts_review():
    facts = facts_of([alert()], [review("<p>#77 SHOP-7</p>")], [action("SHOP-7")], platform="jsm_ops")
    reviews, actions = review_tables(facts, INSTANT)
    assert reviews.set_index("incident_id").at[ALERT, "team"] == "shop"
    assert actions.set_index("key").at["SHOP-7", "incident_id"] == ALERT


def test_the_warehouse_gets_no_review_tables_while_a_teams_platform_is_not_read():
    from oncall_readiness.audit import review_tables_of

    raw = facts_of([alert()], [review("<p>#77</p>")], platform="jsm_ops")
    given = {name: frame for name, frame in raw.items() if not name.startswith("oncall_")}
    assert review_tables_of(given, INSTANT)["incident_reviews"].set_index("incident_id").at[ALERT, "team"] == "shop"
    without_jsm = {name: frame for name, frame in given.items() if not name.startswith("jsm_ops_")}
    assert review_tables_of(without_jsm, INSTANT) == {}  # an empty table would read as "no review due"
