"""The Airflow provider of oncall-readiness: its connection types, found through the package's
``apache_airflow_provider`` entry point (``pyproject.toml``).

With the package installed, the Airflow UI's "Add Connection" offers each source's connection
type (``readiness_pagerduty``, ...) with its own fields, and its Test button calls the hook's
``test_connection``. Airflow reads this while ``import airflow`` initialises its configuration,
so it is plain data, like a provider's ``provider.yaml``: nothing here may import Airflow, a
hook or the source catalogue. A test checks that it lists exactly the catalogue's hooks, with
their connection types and names.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

PACKAGE = "oncall-readiness"

# The connection form of each hook: which fields it shows, their labels and placeholders.
CONNECTION_TYPES: list[dict[str, Any]] = [
    {
        "hook-class-name": "oncall_readiness.hooks.pagerduty.PagerDutyHook",
        "connection-type": "readiness_pagerduty",
        "hook-name": "PagerDuty (oncall-readiness)",
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "login", "port", "extra"],
            "relabeling": {"host": "API base URL", "password": "API token"},
            "placeholders": {
                "host": "https://api.pagerduty.com (leave empty for PagerDuty itself)",
                "password": "read-only REST API token",
            },
        },
    },
    {
        "hook-class-name": "oncall_readiness.hooks.pagerduty.PagerDutyNotesHook",
        "connection-type": "readiness_pagerduty_notes",
        "hook-name": "PagerDuty notes (oncall-readiness)",
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "login", "port"],
            "relabeling": {"host": "API base URL", "password": "API token (may write notes)"},
            "placeholders": {
                "host": "https://api.pagerduty.com (leave empty for PagerDuty itself)",
                "password": "a User token of the notes user, for incident_cost_watch only",
                "extra": '{"from": "oncall-bot@example.com"}',
            },
        },
    },
    {
        "hook-class-name": "oncall_readiness.hooks.grafana.GrafanaHook",
        "connection-type": "readiness_grafana",
        "hook-name": "Grafana (oncall-readiness)",
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "login", "port", "extra"],
            "relabeling": {"host": "Grafana URL", "password": "Service account token"},
            "placeholders": {"host": "https://grafana.example.com", "password": "service account token (Viewer)"},
        },
    },
    {
        "hook-class-name": "oncall_readiness.hooks.prometheus.PrometheusHook",
        "connection-type": "readiness_prometheus",
        "hook-name": "Prometheus (oncall-readiness)",
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port", "extra"],
            "relabeling": {"host": "Prometheus URL", "login": "Username (optional)", "password": "Password or token"},
            "placeholders": {
                "host": "http://prometheus:9090",
                "login": "basic auth user; leave empty to send the password as a bearer token",
                "password": "optional",
            },
        },
    },
    {
        "hook-class-name": "oncall_readiness.hooks.github.GitHubHook",
        "connection-type": "readiness_github",
        "hook-name": "GitHub (oncall-readiness)",
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "login", "port"],
            "relabeling": {"host": "API base URL", "password": "Token"},
            "placeholders": {
                "host": "https://api.github.com (leave empty for github.com)",
                "password": "fine-grained token with Contents: read",
                "extra": '{"api": "graphql", "graphql_batch_size": 100}',
            },
        },
    },
    {
        "hook-class-name": "oncall_readiness.hooks.confluence.ConfluenceHook",
        "connection-type": "readiness_confluence",
        "hook-name": "Confluence (oncall-readiness)",
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port", "extra"],
            "relabeling": {"host": "Site URL", "login": "Account email", "password": "API token"},
            "placeholders": {
                "host": "https://example.atlassian.net",
                "login": "readiness-audit@example.com",
                "password": "Atlassian API token",
            },
        },
    },
    {
        "hook-class-name": "oncall_readiness.hooks.backstage.BackstageHook",
        "connection-type": "readiness_backstage",
        "hook-name": "Backstage catalog (oncall-readiness)",
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "login", "port"],
            "relabeling": {"host": "Backstage backend URL", "password": "Static token"},
            "placeholders": {
                "host": "https://backstage.example.com (backend.baseUrl; /api/catalog is added)",
                "password": "a static token of backend.auth.externalAccess",
                "extra": '{"page_size": 1000}',
            },
        },
    },
    {
        "hook-class-name": "oncall_readiness.hooks.chaos_calendar.ChaosCalendarHook",
        "connection-type": "readiness_chaos_calendar",
        "hook-name": "Chaos Day calendar (oncall-readiness)",
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port", "extra"],
            "relabeling": {
                "host": "Feed URL (iCalendar)",
                "login": "Username (optional)",
                "password": "Password or secret address",
            },
            "placeholders": {
                "host": "https://calendar.example.com/chaos-days.ics (empty with a secret address)",
                "login": "basic auth user, when the feed asks for one",
                "password": "basic auth password, or the feed's whole secret address (https://...ics)",
            },
        },
    },
    {
        "hook-class-name": "oncall_readiness.hooks.jsm_ops.JsmOpsHook",
        "connection-type": "readiness_jsm_ops",
        "hook-name": "JSM Operations (oncall-readiness)",
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port"],
            "relabeling": {"host": "Site URL", "login": "Account email", "password": "API token"},
            "placeholders": {
                "host": "https://your-site.atlassian.net",
                "login": "readiness-audit@example.com (an Atlassian account, not a service account)",
                "password": "Atlassian API token",
                "extra": '{"cloud_id": "(optional: read from the site)", "api_url": "https://api.atlassian.com/jsm/ops/api"}',
            },
        },
    },
    {
        "hook-class-name": "oncall_readiness.hooks.jira.JiraHook",
        "connection-type": "readiness_jira",
        "hook-name": "Jira (oncall-readiness)",
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port", "extra"],
            "relabeling": {"host": "Site URL", "login": "Account email", "password": "API token"},
            "placeholders": {
                "host": "https://example.atlassian.net",
                "login": "readiness-audit@example.com",
                "password": "Atlassian API token",
            },
        },
    },
]


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": PACKAGE,
        "name": "oncall-readiness",
        "description": "Connections to the systems the on-call readiness audit reads.",
        "versions": [version(PACKAGE)],
        "connection-types": CONNECTION_TYPES,
    }
