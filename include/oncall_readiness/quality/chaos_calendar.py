"""The Chaos Day calendar's data contract: what a sound read of the iCalendar feed looks like.

Catches the ways a feed goes wrong: an event without a ``UID`` or a start, the same
occurrence twice (a feed that repeats an event, or a moved instance left in the series),
times that lost their zone (placed nowhere, so no age can be told), an end before its
start, an explicit ``team:`` that names no registry team (a typo that would hide the
team's Chaos Day: the details name the team and the event's UID), and occurrences lost
between the expansion and the facts (fewer rows than the feed row counted).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from oncall_readiness.frames import is_in
from oncall_readiness.quality import Expectations, QualityContext

EVENTS, CLAIMS, FEED = "chaos_calendar_events", "chaos_calendar_event_teams", "chaos_calendar_feed"
CLAIM_KINDS = ["categories", "description"]


def suites(facts: Mapping[str, pd.DataFrame], context: QualityContext) -> dict[str, Expectations]:
    import great_expectations.expectations as gxe  # imported on use: GX is slow to import

    occurrences = facts[FEED]["occurrences"].dropna()
    since, until = _range(facts[FEED], context)
    return {
        FEED: [
            gxe.ExpectTableRowCountToEqual(value=1),
            gxe.ExpectColumnValuesToNotBeNull(column="configured"),
        ],
        EVENTS: [
            gxe.ExpectTableRowCountToEqual(value=int(occurrences.sum()) if len(occurrences) else 0),
            gxe.ExpectColumnValuesToNotBeNull(column="uid"),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["uid", "start"]),
            *_zoned("start", max_value=until),
            *_zoned("end", min_value=since),
            gxe.ExpectColumnValuesToNotBeNull(column="day"),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="end", column_B="start", or_equal=True),
        ],
        CLAIMS: [
            gxe.ExpectColumnValuesToNotBeNull(column="uid"),
            *_zoned("start", max_value=until),
            gxe.ExpectColumnValuesToNotBeNull(column="team"),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["uid", "start", "team"]),
            gxe.ExpectColumnValuesToBeInSet(column="claimed_by", value_set=CLAIM_KINDS),
            # As a pair, so that a failure names the event's UID next to the unknown team.
            gxe.ExpectColumnPairValuesToBeInSet(
                column_A="team",
                column_B="uid",
                value_pairs_set=_known_claims(facts[CLAIMS], context),
                ignore_row_if="either_value_is_missing",
            ),
        ],
    }


def _zoned(
    column: str, *, min_value: pd.Timestamp | None = None, max_value: pd.Timestamp | None = None
) -> Expectations:
    """Not null, and comparable with a UTC bound: a time without a zone cannot be, so it fails."""
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToNotBeNull(column=column),
        gxe.ExpectColumnValuesToBeBetween(column=column, min_value=min_value, max_value=max_value),
    ]


def _known_claims(claims: pd.DataFrame, context: QualityContext) -> list[tuple[str, str]]:
    """The (team, uid) pairs whose team is in the registry: any other pair names an unknown team."""
    teams = set(context.registry["registry_teams"]["team"].dropna())
    known = claims[is_in(claims["team"], teams) & claims["uid"].notna()]
    return sorted({(str(team), str(uid)) for team, uid in zip(known["team"], known["uid"], strict=True)})


def _range(feed: pd.DataFrame, context: QualityContext) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The expansion range the feed row states (an occurrence overlaps it); the instant when none."""
    since, until = (feed[column].dropna() for column in ("range_start", "range_end"))
    instant = context.audit_instant
    return (since.min() if len(since) else instant), (until.max() if len(until) else instant)
