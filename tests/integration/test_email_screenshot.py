"""The emails' screenshots in docs/images/: their charts inlined, rendered by headless Chromium."""

from __future__ import annotations

import base64
import shutil
from email.message import EmailMessage

import pytest

from readiness_sandbox.email_screenshot import html_with_inline_images, screenshot

pytestmark = pytest.mark.integration

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHART = PNG_MAGIC + b"chart bytes"


def message_with_a_chart() -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "payments: gold"
    message.set_content("plain")
    message.add_alternative('<html><body><h1>payments</h1><img src="cid:trend@readiness"></body></html>', "html")
    message.get_payload()[1].add_related(CHART, "image", "png", cid="<trend@readiness>")
    return message


def test_a_chart_referred_to_by_cid_is_inlined_as_data():
    html = html_with_inline_images(message_with_a_chart())
    assert "cid:" not in html
    assert f"data:image/png;base64,{base64.b64encode(CHART).decode()}" in html  # the chart's bytes, not a broken link


def test_chromium_renders_the_email_to_a_png(tmp_path, unavailable):
    chromium = shutil.which("chromium")
    if chromium is None:
        unavailable("Chromium is not installed (Debian package chromium)")
    eml = tmp_path / "team-payments.eml"
    eml.write_bytes(bytes(message_with_a_chart()))
    png = screenshot(eml, tmp_path / "email.png", chromium=chromium)
    assert png.read_bytes().startswith(PNG_MAGIC) and png.stat().st_size > 5_000
