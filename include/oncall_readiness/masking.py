"""Keeping credentials out of what the audit says: error messages, reasons and log lines.

Two layers. Airflow's secrets masker replaces every registered secret with ``***`` in task
logs: :func:`mask_connection` registers what a connection holds (its password, its extra's
secret-named fields, the password of a URL in it) whenever one is read
(``connections.get_connection``). The masker only knows the secrets it was told; a client's
error can quote a credential it never saw, such as a URL with ``user:pass@`` or
``?token=...`` that an API echoes back, or a request's headers. :func:`redact` masks those by
their shape, so it needs no list: every ``SourceError``'s message and the traceback that
``audit.stage_source`` logs pass through it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

MASK = "***"

# A query or form parameter whose name says it is a credential: token=, access_token=, api_key=, ...
_SECRET_PARAM = re.compile(
    r"(?P<name>\b[\w.-]*?(?:token|api[_-]?key|apikey|secret|password|passwd|pwd|signature|sig|credentials?)"
    r"|\bauth(?:orization)?|\bkey)(?P<sep>=|%3D)(?P<value>[^&\s'\"<>#;,)\]}]+)",
    re.IGNORECASE,
)
# user:password@ (or a bare token@) in a URL's authority.
_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/@\s'\"<>]+)@", re.IGNORECASE)
# An Authorization-like header, as text or as a dict's repr: the value up to the line's (or quote's) end.
_HEADER = re.compile(
    r"(?P<name>\b(?:proxy-)?authorization|\bx-api-key|\bx-auth-token|\bprivate-token|\bcookie)"
    r"(?P<sep>['\"]?\s*[:=]\s*['\"]?)(?P<value>[^'\"\r\n]+)",
    re.IGNORECASE,
)
# A scheme and credential outside a header's name: "Bearer abc1", "Token token=abc1", "Basic dXNlcjpw=".
# The credential has a digit or a symbol of base64/URL tokens, so "Basic authentication" stays.
_SCHEME_CREDENTIAL = re.compile(r"\b(?P<scheme>Bearer|Basic|Token)\s+(?=\S*[\d+/=_])(?P<value>[A-Za-z0-9._~+/=-]{6,})")
# A secret-named key of a JSON body or a dict's repr: "token": "abc", 'api_key': 'abc'.
_QUOTED_FIELD = re.compile(
    r"(?P<key>(?P<quote>['\"])[\w.-]*(?:token|api[_-]?key|apikey|secret|password|passwd|credential)[\w.-]*(?P=quote)"
    r"\s*:\s*)(?P<vquote>['\"])(?P<value>[^'\"]*)(?P=vquote)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with credentials in URLs and headers replaced by ``***``: nothing else changes."""
    text = _HEADER.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)
    text = _QUOTED_FIELD.sub(lambda m: f"{m['key']}{m['vquote']}{MASK}{m['vquote']}", text)
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    text = _SECRET_PARAM.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)
    return _SCHEME_CREDENTIAL.sub(lambda m: f"{m['scheme']} {MASK}", text)


def mask_connection(conn: Any) -> None:
    """Register a connection's secrets with Airflow's masker: password, secret extra fields, URL passwords.

    Airflow itself masks the password and the extra as one string; the extra's fields one by
    one (by Airflow's own list of secret names: ``token``, ``api_key``, ...) and the password
    of a URL in it (``{"url": "postgresql://user:password@host/db"}``) are added here.
    """
    extra = _extra(conn)
    secrets: list[Any] = [conn.password, extra]
    secrets += [url_password(value) for value in extra.values() if isinstance(value, str) and "://" in value]
    for secret in secrets:
        if secret:
            mask_secret(secret)


def url_password(url: str) -> str | None:
    """The password in ``scheme://user:password@host``, if any."""
    try:
        password = urlsplit(url).password
        return unquote(password) if password else None
    except ValueError:
        return None


def mask_secret(secret: str | dict[str, Any]) -> None:
    """Register a secret (or a dict's secret-named fields) with Airflow's masker: task logs show ``***``."""
    from airflow.sdk.log import mask_secret as airflow_mask_secret

    airflow_mask_secret(secret)


def _extra(conn: Any) -> dict[str, Any]:
    try:
        extra = conn.extra_dejson if getattr(conn, "extra", None) else {}
    except (ValueError, TypeError):
        return {}
    return extra if isinstance(extra, dict) else {}
