"""The environment variables only the sandbox reads (the demo, `make airflow`, the tests), with their meaning.

The runtime's settings are ``oncall_readiness.config`` (docs/configuration.md); these are
listed in docs/sandbox.md#settings, and a test holds both lists to what the code names.
"""

SANDBOX_SETTINGS: dict[str, str] = {
    "READINESS_PROMETHEUS_BIN": "the Prometheus binary the demo and the tests start (default: `prometheus` on PATH)",
    "READINESS_SANDBOX_TOKEN": "the token the emulators accept (default `sandbox-token`)",
    "READINESS_SANDBOX_READ_ONLY_TOKENS": "tokens the emulators accept for reading only (PagerDuty refuses a note)",
    "READINESS_SANDBOX_REGISTRY": "`make airflow`'s registry: `files` (default) or `backstage` (the catalog API)",
}
