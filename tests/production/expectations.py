"""What both production-shape tests expect of a run, whichever executor ran it."""

from __future__ import annotations

from tests.production.flow import AUDIT_DATE, DIGEST_RECIPIENT, Observed

# The sample organisation's teams (include/sample_org/README.md); commerce is their parent group,
# scored through its roll-up, not as a team.
SAMPLE_TEAMS = {"payments", "checkout", "search", "catalog", "identity", "notifications"}
LEVELS = {"gold", "silver", "bronze", "none"}
LEVEL_LABELS = {"gold": "Gold", "silver": "Silver", "bronze": "Bronze", "none": "No level"}  # the plugin's labels


def assert_audit_published(observed: Observed) -> None:
    card = observed.scorecard
    assert sorted(card["team"]) == sorted(SAMPLE_TEAMS)  # one row each for the audit date
    assert set(card["level"]) <= LEVELS and card["score"].between(0, 100).all()
    states = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in observed.audit_tasks}
    assert states[("publish", -1)] == "success"
    collected = [state for (task, _), state in states.items() if task == "audit_source.collect"]
    assert len(collected) >= 6 and set(collected) == {"success"}  # every source, none down


def assert_emails_sent_once(observed: Observed) -> None:
    team_addresses = {observed.team_emails[team] for team in SAMPLE_TEAMS if observed.team_emails.get(team)}
    assert team_addresses, "the sample organisation's teams have email addresses"
    inbox = observed.inbox
    assert team_addresses | {DIGEST_RECIPIENT} <= set(inbox)
    assert all(len(messages) == 1 for messages in inbox.values()), {k: len(v) for k, v in inbox.items()}
    for address in team_addresses:
        assert inbox[address][0]["Subject"].endswith(f"week of {AUDIT_DATE}"), inbox[address][0]["Subject"]
    assert {ti["state"] for ti in observed.email_tasks} == {"success"}


def assert_scorecard_exported_for_backstage(observed: Observed) -> None:
    """export_to_backstage wrote, where READINESS_BACKSTAGE_EXPORT says, the score-card plugin's file of
    every sample team with the published score and level, the score board, and the audit date it holds."""
    files = observed.backstage
    assert files.get("_export.json", {}).get("audit_date") == AUDIT_DATE.isoformat(), sorted(files)[:20]
    card = {row.team: row for row in observed.scorecard.itertuples()}
    for team in SAMPLE_TEAMS:
        score = files.get(f"default/group/{team}.json")
        assert score, (team, sorted(files)[:20])
        assert score["entityRef"] == {"kind": "group", "namespace": "default", "name": team}
        assert score.get("scorePercent") == round(float(card[team].score)), (team, score.get("scorePercent"))
        assert score["scoreLabel"] == LEVEL_LABELS[card[team].level], (team, score["scoreLabel"])
    board = {(row["entityRef"]["kind"], row["entityRef"]["name"]) for row in files["all.json"]}
    assert {("group", team) for team in SAMPLE_TEAMS} <= board


def assert_ran_by_the_scheduler(observed: Observed) -> None:
    """Each task instance was queued by the scheduler and run in a process of its own (an EmptyOperator,
    sources_done, is marked done by the scheduler itself: no process runs it)."""
    ran = [ti for ti in observed.audit_tasks + observed.email_tasks if ti["operator"] != "EmptyOperator"]
    assert len(ran) >= 15  # the audit's tasks (six sources collected and validated) and the email's three
    for ti in ran:
        assert ti["state"] == "success" and ti["queued_when"] and ti["pid"] and ti["hostname"], ti
