"""Same-day alerts: a team whose level drops, or one of whose checks turns ``fail``, hears it the same day.

The audit's ``publish`` task updates the asset ``readiness_scorecard`` (its event names the
audit date); the DAG ``readiness_alerts`` runs on it, compares that date's scorecard and check
results with the previous published audit date (:mod:`.changes`), and tells each team by email
(``smtp_default``) and, where ``slack_webhook_default`` is defined, on Slack through the Airflow
Slack provider (:mod:`.delivery`). The ledger ``alert_ledger`` (:mod:`.ledger`) records every
change told on every channel, so a re-run of the audit or of the alerts tells nobody twice.

This module is imported by the DAG files while they are parsed: constants only.
"""

from __future__ import annotations

# The asset the audit's publish updates and readiness_alerts is scheduled on.
SCORECARD_ASSET_NAME = "readiness_scorecard"
SCORECARD_ASSET_URI = "x-readiness://warehouse/scorecard"
# The asset event's extra that names the published audit date (ISO).
EVENT_AUDIT_DATE = "audit_date"
SLACK_CONNECTION_ID = "slack_webhook_default"
