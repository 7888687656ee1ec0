"""What the Atlassian emulators (Confluence, Jira, JSM Operations) share: Basic ``email:token`` auth.

Atlassian Cloud's REST APIs take an account's email and API token as HTTP Basic auth; each
emulator decides which accounts and tokens it accepts and answers a refusal in its own API's
error body.
"""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request


def basic_account(request: Request) -> tuple[str, str] | None:
    """(lower-cased email, token) of the request's Basic header; None without a well-formed one."""
    header = request.headers.get("authorization", "").strip()
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    email, sep, token = decoded.partition(":")
    return (email.strip().lower(), token) if sep else None
