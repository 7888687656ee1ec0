"""The readiness API's request and response bodies (pydantic only: the plugin imports this at load time).

FastAPI derives the OpenAPI schema (``/readiness/api/openapi.json``, docs/api.md) from these.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from oncall_readiness.schema import rounded_score

EXTERNAL_STATUSES = ("pass", "warn", "fail", "unknown")  # `waived` comes only from a waiver
# Observations the audit can place: a year outside this is a mistake (and year 1 or 9999 would not
# survive a time-zone conversion).
OBSERVED_YEARS = range(2000, 2200)
# NUL and lone surrogates: text no warehouse, email or page can carry.
_UNPRINTABLE = re.compile("[\x00\ud800-\udfff]")
# A score as the page and the emails show it: one decimal (schema.SCORE_DECIMALS), whatever the column held.
Score = Annotated[float | None, AfterValidator(rounded_score)]


class ExternalResult(BaseModel):
    """One pushed result, as the API receives it (and as ``include/sample_org/external_results.yaml`` lists)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    team: str = Field(min_length=1, max_length=200, description="The team (Backstage Group name).")
    check_id: str = Field(
        min_length=1, max_length=200, description="An external check the organisation declares (readiness-checks.yaml)."
    )
    status: str = Field(description="pass, warn, fail or unknown.", examples=["fail"])
    reason: str = Field(min_length=1, max_length=2000, description="One sentence: what was found.")
    subject: str | None = Field(
        default=None,
        max_length=300,
        description="What the result is about: `service:`, `person:` or `schedule:` and a name of the team's "
        "(any case); omitted: the whole team.",
    )
    observed_at: dt.datetime = Field(description="When the result was observed, ISO 8601 with a time zone.")

    @field_validator("status")
    @classmethod
    def _known_status(cls, status: str) -> str:
        if status not in EXTERNAL_STATUSES:
            raise ValueError(f"must be one of {', '.join(EXTERNAL_STATUSES)}, got {status!r}")
        return status

    @field_validator("team", "check_id", "reason", "subject", mode="before")
    @classmethod
    def _printable(cls, text: Any) -> Any:
        if isinstance(text, str) and _UNPRINTABLE.search(text):
            raise ValueError("must not hold a NUL or a lone surrogate character")
        return text

    @field_validator("observed_at", mode="before")
    @classmethod
    def _iso_text(cls, observed_at: Any) -> Any:
        if not isinstance(observed_at, str | dt.datetime):  # pydantic would take 1731664800 as an epoch
            raise ValueError("must be ISO 8601 text with a time zone, e.g. 2026-11-15T10:00:00Z")
        return observed_at

    @field_validator("observed_at")
    @classmethod
    def _zoned(cls, observed_at: dt.datetime) -> dt.datetime:
        if observed_at.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-11-15T10:00:00Z")
        if observed_at.year not in OBSERVED_YEARS:
            raise ValueError(f"year {observed_at.year} is outside {OBSERVED_YEARS.start}-{OBSERVED_YEARS.stop - 1}")
        return observed_at.astimezone(dt.UTC)

    @field_validator("subject")
    @classmethod
    def _blank_is_none(cls, subject: str | None) -> str | None:
        return subject or None


class StoredExternalResult(ExternalResult):
    """A result as stored: what was pushed, when it was received and by whom."""

    received_at: dt.datetime
    received_by: str | None = None
    stored: bool = Field(description="False when the same result (check, team, subject, observed_at) was held.")


class TeamScore(BaseModel):
    team: str
    score: Score = Field(description="0 to 100 over the checks with a known outcome, one decimal; null: none.")
    level: str = Field(description="gold, silver, bronze or none.")
    passed: int
    warned: int
    failed: int
    unknown: int
    fully_assessed: bool | None = None
    score_change_7d: Score = Field(
        None, description="Against the audit closest to 7 days before (4 to 10 days); null: none that close."
    )
    waived: int | None = Field(
        None, description="Checks a waiver turned into waived; null: an audit before it was counted."
    )


class Scorecard(BaseModel):
    audit_date: dt.date
    teams: list[TeamScore]


class Finding(BaseModel):
    subject: str
    outcome: str
    message: str


class CheckResult(BaseModel):
    check_id: str
    status: str = Field(description="pass, warn, fail, unknown or waived.")
    score: Score = None
    reason: str
    remediation: str | None = None
    findings: list[Finding] = []


class Waiver(BaseModel):
    check_id: str
    subject: str | None = None
    reason: str
    approver: str | None = None
    expires: dt.date | None = None
    active: bool | None = None


class TeamReport(BaseModel):
    audit_date: dt.date
    team: str
    score: Score
    level: str
    checks: list[CheckResult]
    waivers: list[Waiver]


class Gate(BaseModel):
    """The readiness gate a deploy pipeline asks: does the team (or the service's team) meet ``min_level``?"""

    audit_date: dt.date
    team: str
    service: str | None = None
    level: str
    score: Score
    min_level: str
    open: bool = Field(description="True: level at least min_level and no failing check (for a service: about it).")
    reason: str
    failing_checks: list[CheckResult]
    waivers: list[Waiver]
