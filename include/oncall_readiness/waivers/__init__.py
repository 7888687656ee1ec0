"""Waivers: a team's justified, approved and dated exception to a check.

A waiver names a check, a team, optionally one subject (``service:<name>``,
``person:<name>`` or ``schedule:<id>``, as the check's findings name them), the reason,
the approver, the day it was approved and the day it expires. It is written in
``readiness-waivers.yaml`` beside the catalog (the catalog folder, or the folder of the
catalog file; ``$READINESS_WAIVERS`` points elsewhere), or in a Group's
``readiness/waivers`` annotation (the same entries, without ``team``)::

    waivers:
      - check: chaos-day
        team: notifications
        reason: The team moved to the new message broker; its first Chaos Day is booked for January.
        approver: dana.lee@example.com
        approved: 2026-10-01
        expires: 2026-12-15

Rules
-----
- A waiver is **active** from ``approved`` to ``expires`` inclusive (as of the audit
  instant, so a backfill sees the waivers of its day). After ``expires`` it stops applying
  by itself; the ``waivers`` table keeps it with ``active = false``.
- An active waiver without a subject turns the team's ``fail`` or ``warn`` result of the
  check into ``waived``, with the reason ``Waived until <expires> by <approver>: <reason>.``,
  and its fail and warn findings into ``waived``. A ``pass`` stays a pass (the gap is
  closed) and an ``unknown`` stays unknown (a waiver accepts a known gap; it does not hide
  data the audit could not read).
- An active waiver with a subject turns only that subject's fail or warn findings into
  ``waived`` (message ``Waived until ... (<the finding>)``). The team's status is then
  recomputed from its findings, worst first (``checks.results_from_findings``): it is the
  worst finding that is left, ``waived`` when every problem is waived. When the team's
  status came from something no finding carries (a team-level problem), a subject waiver
  leaves it as it is.
- ``waived`` scores nothing: the check neither raises nor lowers the team's score.
- A bad waiver (a missing or unknown field, an unknown check or team, a subject the team
  does not have, no approver, a bad date, expiring before it was approved, running longer
  than ``max_waiver_days`` of ``checks.yaml``) stops the audit at ``load_registry`` with
  the file, line and field, like a bad catalog (:class:`WaiverError`).
"""

from __future__ import annotations

from oncall_readiness.waivers.load import (
    WAIVER_COLUMNS,
    WAIVERS_ENV_VAR,
    WAIVERS_FILE,
    load_waivers,
    waiver_table,
    waivers_path,
)

__all__ = [
    "WAIVER_COLUMNS",
    "WAIVERS_ENV_VAR",
    "WAIVERS_FILE",
    "load_waivers",
    "waiver_table",
    "waivers_path",
]
