"""Prometheus alerting rules, from the rules API: one call, ``GET /api/v1/rules?type=alert``.

Prometheus answers with every loaded rule group in one response (no pagination), so the
whole read is a single request, retried on 429 and 5xx. Any server that implements the
Prometheus rules API works: Prometheus itself, Thanos, or Grafana Mimir / Cortex (put
their prefix in the host, e.g. ``https://mimir.example.com/prometheus``).

Rules are read as they are when the audit runs: the rules API has no history, so a
backfill of a past date records today's rules under that date.

Facts table (schema version 1):

- ``prometheus_alert_rules``: rule_group, file (the rule file on the server), name (the
  ``alert:`` name), query (the PromQL expression), duration_seconds (``for:``; 0 when
  absent), labels and annotations (the rule's static labels and annotations as JSON
  object text with sorted keys, ``{}`` when it has none), health (``ok``, ``err`` or
  ``unknown`` before the first evaluation). One row per alerting rule; recording rules are
  not read.

Connection ``prometheus_default``: the base URL in the host (required). Authentication is
optional: login and password → HTTP basic auth (Prometheus ``web.config.file``, Grafana
Cloud); a password without a login → ``Authorization: Bearer <password>`` (a reverse proxy
or a managed service that takes tokens). Credentials never appear in errors or logs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import requests

from oncall_readiness.errors import SourceError
from oncall_readiness.sources.facts import Facts, typed_frame
from oncall_readiness.sources.http import ApiClient, raise_for_error
from oncall_readiness.sources.window import AuditWindow

if TYPE_CHECKING:
    from oncall_readiness.hooks.base import ReadinessHook

log = logging.getLogger(__name__)

SOURCE = "prometheus"
RULES_PATH = "/api/v1/rules"
HEALTH_VALUES = ("ok", "err", "unknown")

FACT_COLUMNS: dict[str, dict[str, str]] = {
    "prometheus_alert_rules": {
        "rule_group": "string",
        "file": "string",
        "name": "string",
        "query": "string",
        "duration_seconds": "float",
        "labels": "string",
        "annotations": "string",
        "health": "string",
    },
}


class PrometheusClient(ApiClient):
    """A read-only client of the Prometheus HTTP API: optional basic or bearer auth, retries."""

    def __init__(
        self,
        base_url: str,
        *,
        login: str | None = None,
        password: str | None = None,
        max_retries: int = 6,
        backoff_factor: float = 0.5,
        timeout: float | tuple[float, float] = (10, 60),
    ) -> None:
        if not base_url:
            raise SourceError(f"{SOURCE}: no base URL given")
        parts = urlsplit(base_url.strip())
        # Credentials written into the URL (https://user:pass@host) become basic auth, never part of a message.
        if parts.username or parts.password:
            login = login or parts.username
            password = password or parts.password
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        super().__init__(urlunsplit(parts), max_retries=max_retries, backoff_factor=backoff_factor)
        self.timeout = timeout
        self.session.headers.update({"Accept": "application/json"})
        if login:
            self.session.auth = (login, password or "")
        elif password:
            self.session.headers["Authorization"] = f"Bearer {password}"

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The ``data`` of a successful API answer; ``SourceError`` for anything else."""
        try:
            response = self._send(path, params, timeout=self.timeout)
        except requests.RequestException as error:
            raise SourceError(
                f"{SOURCE}: GET {path} at {self.base_url} failed after {self.max_retries} retries: {_why(error)}"
            ) from None
        finally:
            self.requests_made += 1
        raise_for_error(response, SOURCE)
        try:
            body = response.json()
        except ValueError:
            raise SourceError(
                f"{SOURCE}: GET {path} answered {response.status_code} with something that is not JSON "
                f"({response.headers.get('Content-Type', 'no content type')}); is the host a Prometheus API?"
            ) from None
        if not isinstance(body, dict) or body.get("status") != "success" or not isinstance(body.get("data"), dict):
            said = body.get("error") if isinstance(body, dict) else None
            raise SourceError(f"{SOURCE}: GET {path} did not succeed: {said or 'no data in the answer'}")
        data: dict[str, Any] = body["data"]
        return data

    def alert_rule_groups(self) -> list[dict[str, Any]]:
        """Every rule group with its alerting rules, in one request."""
        groups = self.get(RULES_PATH, {"type": "alert"}).get("groups")
        if not isinstance(groups, list):
            raise SourceError(f"{SOURCE}: GET {RULES_PATH} answered without a 'groups' list")
        return groups


def _why(error: requests.RequestException) -> str:
    """The root cause of a connection failure in a few words (no URL, no credentials)."""
    text = str(error)
    if match := re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text):
        return match.group(1).strip()
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.exceptions.RetryError):
        return "too many error answers"
    return type(error).__name__


def collect(client: PrometheusClient) -> dict[str, pd.DataFrame]:
    """Read every alerting rule and return the facts table."""
    return normalise(client.alert_rule_groups())


def normalise(groups: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """Turn the rules API's groups into the documented facts table."""
    return {"prometheus_alert_rules": _frame("prometheus_alert_rules", _alert_rules(groups))}


def _alert_rules(groups: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for group in groups:
        for rule in group.get("rules") or []:
            if rule.get("type", "alerting") != "alerting":
                continue  # a server that ignores ?type=alert still sends recording rules
            yield {
                "rule_group": group.get("name"),
                "file": group.get("file"),
                "name": rule.get("name"),
                "query": rule.get("query"),
                "duration_seconds": rule.get("duration", 0),
                # Prometheus always sends both maps ({} when empty): a missing one is a changed API,
                # None, which the data contract rejects, not {} (a rule without its runbook_url).
                "labels": _json_object(rule["labels"]) if "labels" in rule else None,
                "annotations": _json_object(rule["annotations"]) if "annotations" in rule else None,
                "health": rule.get("health"),
            }


def _json_object(value: Any) -> str | None:
    """A label or annotation map as JSON object text (sorted keys); missing is ``{}``, a non-map is None."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        return None  # the data contract rejects it
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _frame(table: str, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    return typed_frame(rows, FACT_COLUMNS[table])


def collect_for_audit(hook: ReadinessHook, registry: Mapping[str, pd.DataFrame], window: AuditWindow) -> Facts:
    """The audit's collection: the alerting rules as they are now (the rules API has no history)."""
    client = cast(PrometheusClient, hook.get_conn())  # the source's hook builds its client
    facts = collect(client)
    log.info(
        "Prometheus: %d alerting rules, %d requests, %d retried",
        len(facts["prometheus_alert_rules"]),
        client.requests_made,
        client.retries,
    )
    return facts
