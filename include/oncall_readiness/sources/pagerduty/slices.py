"""Reading PagerDuty collections past classic pagination's offset cap, and nothing more than that costs.

PagerDuty's classic pagination refuses ``offset + limit`` beyond 10,000 (400, code 2002): a
collection of more objects cannot be read by paging alone, whatever the client does. So a
collection is first read as one plain query, and only when that query's first page says
(``total``) it holds more than the cap is it read again in slices, narrowed by the filters
the endpoint offers:

- users, schedules, services and escalation policies by ``team_ids[]``, a batch of teams
  per query: the teams that the collections already read whole name (schedules, services and
  escalation policies are read before users and each name its teams), or, when none was read
  whole, the account's teams from ``GET /teams``, read once;
- on-call entries by ``schedule_ids[]`` batches packed so that each batch's entries, estimated
  from the schedules' rendered layers, fill whole pages (``pack``), and then by time windows;
- incidents by date windows (``pagerduty_incidents``).

A slice whose own first page is still past the cap is halved (its ids first, then its
window) until each query fits; the first page decides, so no page is read twice, and an
object that two slices hold (a user in two teams, a shift across two windows) is kept once.

Team slices cannot see what belongs to no team: a user, service, schedule or policy outside
every team. Past the cap the collector therefore looks up, one call each, the objects the
audit refers to and the slices did not bring: the joiners by email (``GET /users?query=``,
see ``collect.joiner_emails``), the users that rotations, escalation rules and shifts name, the
registry's services, their escalation policies and the schedules those page
(``GET /<collection>/{id}``). An object of no team that nothing refers to cannot change a
check, and is not read: the log says how many there were. When the slices brought as many
distinct objects as the plain query's ``total`` counted, nothing lies outside them: an id or an
email they lack does not exist and is not looked up (a joiner without a PagerDuty user then
costs no request).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from oncall_readiness.sources.pagerduty.client import BeyondOffsetCap

if TYPE_CHECKING:
    from oncall_readiness.sources.pagerduty.client import PagerDutyClient

log = logging.getLogger(__name__)

# Values of one ``team_ids[]`` / ``schedule_ids[]`` filter per query: with PagerDuty's 7-character
# ids about 2.7 KB of query string, well under the 8 KB that proxies and servers commonly accept,
# and large enough that a slice's last, partly filled page costs little.
IDS_PER_QUERY = 100
# An on-call window is not split below this: more than 10,000 entries of one schedule in an hour
# is not an account.
SMALLEST_ONCALL_WINDOW = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class Slice:
    """One narrowed query: some values of one array filter, and/or a time window (``since``/``until``)."""

    ids_param: str | None = None
    ids: tuple[str, ...] = ()
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None
    smallest: pd.Timedelta = SMALLEST_ONCALL_WINDOW

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.ids_param:
            params[self.ids_param] = list(self.ids)
        if self.since is not None and self.until is not None:
            params |= {"since": self.since.isoformat(), "until": self.until.isoformat()}
        return params

    def halves(self) -> tuple[Slice, Slice] | None:
        """The two slices that together hold this one's objects; None when it cannot be narrowed."""
        if len(self.ids) > 1:
            middle = len(self.ids) // 2
            return replace(self, ids=self.ids[:middle]), replace(self, ids=self.ids[middle:])
        if self.since is not None and self.until is not None and self.until - self.since > self.smallest:
            halfway = self.since + (self.until - self.since) / 2
            return replace(self, until=halfway), replace(self, since=halfway)
        return None

    def describe(self) -> str:
        parts = [f"{len(self.ids)} {self.ids_param}"] if self.ids_param else []
        if self.since is not None and self.until is not None:
            parts.append(f"{self.since.isoformat()} to {self.until.isoformat()}")
        return ", ".join(parts) or "the whole collection"


def read_slice(
    client: PagerDutyClient, path: str, key: str, params: Mapping[str, Any], piece: Slice
) -> Iterator[dict[str, Any]]:
    """Every object of ``piece``, halving it while its first page says it holds more than the cap."""
    try:
        yield from client.iter_all(path, key, {**params, **piece.params()})
    except BeyondOffsetCap as too_big:
        halves = piece.halves()
        if halves is None:
            raise BeyondOffsetCap(
                f"{too_big} (cannot narrow further: {piece.describe()})", total=too_big.total
            ) from None
        for half in halves:
            yield from read_slice(client, path, key, params, half)


def narrowed(piece: Slice, expected: float, cap: int) -> list[Slice]:
    """``piece`` halved until each part's share of the ``expected`` objects is within ``cap``.

    Halving before asking saves the refused first page of a query known to be too big; the
    estimate may be wrong either way, so ``read_slice`` still halves a part that is.
    """
    halves = piece.halves() if expected > cap else None
    if halves is None:
        return [piece]
    return [part for half in halves for part in narrowed(half, expected / 2, cap)]


def batches(ids: Iterable[str], size: int | None = None) -> Iterator[tuple[str, ...]]:
    """``ids`` (each once, in order) in batches of ``size`` (default ``IDS_PER_QUERY``)."""
    size = size or IDS_PER_QUERY
    ordered = list(dict.fromkeys(ids))
    for start in range(0, len(ordered), size):
        yield tuple(ordered[start : start + size])


def pack(
    estimates: Sequence[tuple[str, int]], *, page: int, cap: int, size: int | None = None
) -> list[tuple[str, ...]]:
    """``estimates`` (id, objects expected) cut, in order, into batches that fill their pages best.

    Each batch of at most ``size`` ids (default ``IDS_PER_QUERY``) costs its estimated pages
    (at least one); the cuts minimise their sum (a batch's last page is partly filled, so where
    a batch ends matters), preferring fewer batches on a tie. A batch is kept within ``cap``
    objects unless one id alone passes it (``read_slice`` then halves its window). Estimates
    only place the cuts: a wrong one costs a page, never an object.
    """
    size = size or IDS_PER_QUERY
    ends = [0]
    for _, estimate in estimates:
        ends.append(ends[-1] + max(0, estimate))
    # cost[end]: (pages, batches) of the best cuts of the first ``end`` ids
    cost, start = [(0, 0)] + [(math.inf, 0)] * len(estimates), [0] * (len(estimates) + 1)
    for end in range(1, len(estimates) + 1):
        for first in range(end - 1, max(0, end - size) - 1, -1):
            objects = ends[end] - ends[first]
            if objects > cap and end - first > 1:
                break
            pages, batches_so_far = cost[first]
            option = (pages + max(1, math.ceil(objects / page)), batches_so_far + 1)
            if option < cost[end]:
                cost[end], start[end] = option, first
    cuts, end = [], len(estimates)
    while end:
        cuts.append((start[end], end))
        end = start[end]
    return [tuple(object_id for object_id, _ in estimates[first:end]) for first, end in reversed(cuts)]


class AccountTeams:
    """The team ids to slice by: the account's (``GET /teams``) once listed, else those the whole reads name.

    A collection read whole (below the cap) names the teams of its objects; users are read
    after schedules, services and escalation policies, so past the cap they are sliced by the
    teams those name, at no request. Only when nothing read whole names a team is ``GET
    /teams`` read (once). A team that owns no schedule, service or policy is then not sliced:
    its users are like users of no team (looked up when the audit refers to them).
    """

    def __init__(self, client: PagerDutyClient):
        self.client = client
        self._listed: list[str] | None = None
        self.named: dict[str, None] = {}  # team ids in the order met, each once

    def learn(self, collected: Collected) -> None:
        """Remember the teams named by a collection read whole (a sliced one names only the teams sliced by)."""
        if collected.sliced:
            return
        for obj in collected.by_id.values():
            self.named.update((team["id"], None) for team in obj.get("teams") or () if team.get("id"))

    def __call__(self) -> list[str]:
        if self._listed is not None or not self.named:
            return self.listed()
        return list(self.named)

    def listed(self) -> list[str]:
        if self._listed is None:
            self._listed = [team["id"] for team in self.client.iter_all("/teams", "teams")]
        return self._listed


class Collected:
    """One collection's objects by id, and whether the cap made it a team-sliced read (which lacks no-team objects)."""

    def __init__(self, objects: Iterable[dict[str, Any]] = (), *, sliced: bool = False, reported_total: int | None = 0):
        self.by_id: dict[str, dict[str, Any]] = {}
        self.sliced, self.reported_total = sliced, reported_total
        self.add(objects)

    @property
    def may_lack(self) -> bool:
        """Whether objects of no team may be missing: a sliced read that brought fewer than ``total`` counted."""
        return self.sliced and (self.reported_total is None or len(self.by_id) < self.reported_total)

    @property
    def objects(self) -> list[dict[str, Any]]:
        return list(self.by_id.values())

    def add(self, found: Iterable[dict[str, Any]]) -> None:
        """Keep each object once: the first slice that brings it wins (a user in two teams comes twice)."""
        for obj in found:
            self.by_id.setdefault(obj["id"], obj)


def read_by_team(
    client: PagerDutyClient, path: str, key: str, params: Mapping[str, Any], teams: Callable[[], list[str]]
) -> Collected:
    """``path`` as one plain walk; past the cap, in ``team_ids[]`` slices, each object once."""
    try:
        return Collected(client.iter_all(path, key, params))
    except BeyondOffsetCap as too_big:
        team_ids = teams()
        log.info(
            "PagerDuty: GET %s holds %s objects, past the offset cap: reading it in slices of %d of %d teams",
            path,
            too_big.total,
            IDS_PER_QUERY,
            len(team_ids),
        )
        collected = Collected([], sliced=True, reported_total=too_big.total)
        for batch in batches(team_ids):
            collected.add(read_slice(client, path, key, params, Slice("team_ids[]", batch)))
        return collected


def fetch_missing(
    client: PagerDutyClient,
    collected: Collected,
    wanted: Iterable[str | None],
    path: str,
    key: str,
    params: Mapping[str, Any] | None = None,
) -> None:
    """After a team-sliced read, ``GET path/{id}`` for each wanted object the slices did not bring.

    An id PagerDuty does not know (404: a typo in the registry) is left out, as a plain read
    would leave it: the suite and the checks report it. Slices that brought every object the
    plain query counted leave nothing to look up.
    """
    if not collected.may_lack:
        return
    for object_id in sorted({i for i in wanted if i} - collected.by_id.keys()):
        found = client.find(f"{path}/{object_id}", params)
        if found is not None:
            collected.add([found[key]])


def find_users_by_email(client: PagerDutyClient, users: Collected, emails: Iterable[str], includes: list[str]) -> None:
    """After a team-sliced read that lacks users, each wanted email not found, by ``GET /users?query=<email>``."""
    if not users.may_lack:
        return
    known = {(user.get("email") or "").strip().lower() for user in users.by_id.values()}
    for email in sorted({e.strip().lower() for e in emails if isinstance(e, str) and e.strip()} - known):
        matches = client.iter_all("/users", "users", {"query": email, "include[]": includes})
        users.add(user for user in matches if (user.get("email") or "").strip().lower() == email)


def report_unread(path: str, collected: Collected) -> None:
    """Say how many objects of no team, referred to by nothing the audit reads, a sliced read left out."""
    if collected.may_lack and collected.reported_total is not None:
        log.warning(
            "PagerDuty: %d of the %d objects of GET %s belong to no team and nothing the audit reads refers "
            "to them: past the offset cap they are not read (they cannot change a check)",
            collected.reported_total - len(collected.by_id),
            collected.reported_total,
            path,
        )
