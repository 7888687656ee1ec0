"""One run of ``incident_cost_watch``: the running loss of every open high-urgency incident.

1. One walk of ``GET /incidents?statuses[]=triggered&statuses[]=acknowledged&urgencies[]=high``
   (pages of 100): the listing is the truth of the run, so a resolved incident, which it never
   holds, never gets a note.
2. Each incident priced as of the run's instant (``cost.price_incidents``), in whole minutes.
3. A note when a milestone is crossed: milestone = floor(minutes / ``note_every_minutes``) x
   ``note_every_minutes`` (30, 60, ...). A run posts at most one note per incident, for the
   latest milestone crossed; a milestone a run did not see (the watch was down for an hour)
   is not posted late, as the later note carries the newer figure. A milestone is posted once
   across retries and overlapping runs: the run claims (incident, milestone) in the notes
   ledger (``ledger``) before posting and marks it posted after; a claim left unposted is
   resolved by looking for its text among the incident's notes before posting again. An
   unpriced incident gets no note (the log says why).
4. ``open_incident_costs`` replaced with what the run saw (the Readiness page lists it).

A note that fails to post fails the run after every other incident was handled, and after
``open_incident_costs`` was written; the retry posts only what is missing. The listing reads
with the audit's read-only ``pagerduty_default``; the notes are read and written through
``pagerduty_notes`` (:class:`notes.NotesAccount`). Without that connection the run still
prices the open incidents for the page, and posts nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from oncall_readiness import config
from oncall_readiness.errors import AuditInstantError, SourceError
from oncall_readiness.hooks.pagerduty import PagerDutyNotesHook
from oncall_readiness.incidents import notes
from oncall_readiness.incidents.cost import currency, note_text, price_incidents
from oncall_readiness.incidents.ledger import NoteClaim, NotesLedger, lease_expired
from oncall_readiness.schema import OPEN_INCIDENT_COST_COLUMNS
from oncall_readiness.sources.pagerduty import PagerDutyClient
from oncall_readiness.warehouse import Warehouse

log = logging.getLogger(__name__)

# A scheduler and a worker may disagree by seconds: an instant or a milestone later than now by more is refused.
CLOCK_SKEW = pd.Timedelta(minutes=5)
OPEN_HIGH_URGENCY = {"statuses[]": ["triggered", "acknowledged"], "urgencies[]": ["high"]}


@dataclass
class WatchReport:
    """What a run did; ``failed`` holds the incidents whose note could not be posted."""

    open_incidents: int = 0
    unpriced: int = 0
    posted: list[tuple[str, int]] = field(default_factory=list)
    found_posted: list[tuple[str, int]] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        return {
            "open_incidents": self.open_incidents,
            "unpriced": self.unpriced,
            "notes_posted": len(self.posted),
            "notes_found_posted": len(self.found_posted),
            "notes_failed": len(self.failed),
        }


class NotesNotPosted(SourceError):
    """Some notes could not be posted; the run's retry posts what is missing."""


def note_every_minutes() -> int:
    """Minutes between milestones: ``READINESS_NOTE_EVERY_MINUTES``, default 30."""
    return config.NOTE_EVERY_MINUTES.require()


def milestone(minutes: float, every: int) -> int:
    """The latest milestone crossed: 0 before the first, then every ``every`` minutes."""
    return int(minutes // every) * every if minutes >= every else 0


def open_incidents(client: PagerDutyClient) -> pd.DataFrame:
    """The open high-urgency incidents, from one paginated listing."""
    rows = [
        {
            "incident_id": incident["id"],
            "incident_number": incident.get("incident_number"),
            "title": incident.get("title"),
            "service_id": (incident.get("service") or {}).get("id"),
            "pagerduty_service_name": (incident.get("service") or {}).get("summary"),
            "urgency": incident.get("urgency"),
            "status": incident.get("status"),
            "created_at": incident.get("created_at"),
            "resolved_at": None,
        }
        for incident in client.iter_all("/incidents", "incidents", OPEN_HIGH_URGENCY)
        if incident.get("status") != "resolved"  # never, by the query; a note on one would be wrong
    ]
    columns = ["incident_id", "incident_number", "title", "service_id", "pagerduty_service_name", "urgency"]
    return pd.DataFrame(rows, columns=[*columns, "status", "created_at", "resolved_at"])


def open_costs(incidents: pd.DataFrame, services: pd.DataFrame, instant: pd.Timestamp, money: str) -> pd.DataFrame:
    """``open_incident_costs`` rows: whole minutes so far, and their loss, as of ``instant``."""
    priced = price_incidents(incidents, services, instant, money=money)
    priced["checked_at"] = instant
    priced["minutes"] = priced["minutes"].fillna(0).astype("int64")  # whole minutes, as the notes say
    priced["estimated_loss"] = priced["minutes"] * priced["cost_per_minute"]
    priced["service"] = priced["service"].where(priced["service"].notna(), priced["pagerduty_service_name"])
    return priced[[*OPEN_INCIDENT_COST_COLUMNS, "pagerduty_service_id"]].reset_index(drop=True)


def run(
    client: PagerDutyClient,
    warehouse_url: str,
    *,
    instant: pd.Timestamp,
    services: pd.DataFrame,
    notes_account: notes.NotesAccount | None,
    run_id: str,
    note_every_minutes: int = config.NOTE_EVERY_MINUTES.declared_default(),
    money: str | None = None,
) -> WatchReport:
    """One run of the watch as of ``instant`` (the DAG run's data interval end); raises when a note failed.

    ``client`` lists the open incidents (read-only); ``notes_account`` reads and posts their notes
    (None: no note is posted, the open incidents are still priced for the page).
    """
    if note_every_minutes < 1:
        raise ValueError(f"note_every_minutes must be at least 1, not {note_every_minutes}")
    now = pd.Timestamp.now(tz="UTC")
    instant = pd.Timestamp(instant)
    instant = instant.tz_convert("UTC") if instant.tzinfo else instant.tz_localize("UTC")
    if instant > now + CLOCK_SKEW:  # its notes would claim minutes of outage that have not happened
        raise AuditInstantError(
            f"incident_cost_watch as of {instant:%Y-%m-%d %H:%M} UTC is later than now ({now:%Y-%m-%d %H:%M} UTC): "
            "no incident is priced and no note is posted"
        )
    costs = open_costs(open_incidents(client), services, instant, money or currency())
    report = WatchReport(open_incidents=len(costs))
    warehouse = Warehouse(warehouse_url)
    try:
        ledger = NotesLedger(warehouse)
        ledger.create()
        if notes_account is None:
            log.warning(
                "No %s connection (a PagerDuty key that may write notes): the open incidents are priced, no note "
                "is posted (docs/incidents.md)",
                PagerDutyNotesHook.default_conn_name,
            )
        else:
            held = ledger.claims(costs["incident_id"])
            for incident in costs.to_dict("records"):
                claims = _possible(held.get(incident["incident_id"], []), incident, now)
                _watch_incident(
                    incident, claims, notes_account, ledger, report, every=note_every_minutes, run_id=run_id
                )
        warehouse.replace_open_incident_costs(costs)
    finally:
        warehouse.dispose()
    log.info("incident_cost_watch as of %s: %s", instant.isoformat(), report.summary())
    if report.failed:
        raise NotesNotPosted(
            "Could not post the running-cost note on "
            + "; ".join(f"{incident}: {why}" for incident, why in sorted(report.failed.items()))
        )
    return report


def _possible(claims: list[NoteClaim], incident: Mapping[Hashable, Any], now: pd.Timestamp) -> list[NoteClaim]:
    """The claims of milestones the incident can have reached by now; a later one (a row written by a run
    dated in the future, or by hand) is ignored, so it cannot silence the milestones still to come."""
    created = pd.Timestamp(incident["created_at"])
    if pd.isna(created):
        return claims
    elapsed = (now - (created.tz_convert("UTC") if created.tzinfo else created.tz_localize("UTC"))) / pd.Timedelta(
        minutes=1
    )
    possible = [claim for claim in claims if claim.milestone_minutes <= elapsed + CLOCK_SKEW / pd.Timedelta(minutes=1)]
    for claim in claims:
        if claim not in possible:
            log.warning(
                "%s: the ledger holds milestone %d min, beyond the %d min it has been open: ignored",
                incident["incident_id"],
                claim.milestone_minutes,
                int(elapsed),
            )
    return possible


def _watch_incident(
    incident: Mapping[Hashable, Any],  # a row of the open incidents' costs
    claims: list[NoteClaim],
    account: notes.NotesAccount,
    ledger: NotesLedger,
    report: WatchReport,
    *,
    every: int,
    run_id: str,
) -> None:
    """Post this incident's latest milestone once, if it is due."""
    name = f"{incident['incident_id']} (#{incident['incident_number']})"
    due = milestone(incident["minutes"], every)
    if not incident["priced"]:
        report.unpriced += 1
        if pd.isna(incident["team"]):
            why = f"PagerDuty service {incident['pagerduty_service_id']} is not a registry component's"
        else:
            why = f"its component {incident['service']} has no readiness/cost-per-minute annotation"
        log.info("%s is unpriced (%s): no note", name, why)
        return
    if due == 0:
        return
    if any(c.milestone_minutes > due or (c.milestone_minutes == due and c.posted) for c in claims):
        return  # this milestone is posted, or a run at a later instant has moved past it
    rate, service = float(incident["cost_per_minute"]), incident["service"]
    content = note_text(int(incident["minutes"]), rate, incident["currency"], service)
    try:
        if ledger.claim(incident["incident_id"], due, content, run_id=run_id):
            _post(incident["incident_id"], due, content, account, ledger, report)
            return
        held = ledger.get(incident["incident_id"], due)
        if held is None or held.posted:
            return
        if held.claimed_by != run_id and not lease_expired(held):
            log.info("%s: milestone %d min is being posted by run %s; left to it", name, due, held.claimed_by)
            return
        # This run's earlier attempt, or a run that died: did PagerDuty get the note before it stopped?
        found = [
            n for n in notes.incident_notes(account.client, incident["incident_id"]) if n.get("content") == held.content
        ]
        if found:
            ledger.mark_posted(incident["incident_id"], due, note_id=found[0].get("id"), content=held.content)
            report.found_posted.append((incident["incident_id"], due))
            log.info("%s: the note of milestone %d min was already on the incident; recorded it", name, due)
            return
        if ledger.take_over(held, run_id=run_id, content=content):
            _post(incident["incident_id"], due, content, account, ledger, report)
    except SourceError as error:
        report.failed[name] = str(error)
        log.error("%s: the note of milestone %d min failed: %s", name, due, error)


def _post(
    incident_id: str,
    due: int,
    content: str,
    account: notes.NotesAccount,
    ledger: NotesLedger,
    report: WatchReport,
) -> None:
    note = notes.post_note(account.client, incident_id, content, from_email=account.from_email)
    ledger.mark_posted(incident_id, due, note_id=note.get("id"), content=content)
    report.posted.append((incident_id, due))
    log.info("%s: posted %r", incident_id, content)
