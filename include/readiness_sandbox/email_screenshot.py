"""Screenshots of the emails `make demo` writes, as a mail client shows them: docs/images/ from the real output.

A message's HTML part refers to its charts by ``cid:`` (inline parts); a browser cannot
follow those, so each is replaced by a ``data:`` URI of that part before headless Chromium
renders the page. The images in docs/ are this script's output on ``make demo``'s emails, so
they cannot drift from what the emails say::

    make demo
    .venv/bin/python -m readiness_sandbox.email_screenshot out/emails docs/images

writes ``docs/images/email-<name>.png`` for the team email of payments and the leadership
digest (``--emails`` picks others).
"""

from __future__ import annotations

import argparse
import base64
import shutil
import subprocess
import tempfile
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

DEFAULT_EMAILS = ("team-payments", "digest")
WIDTH, HEIGHT = 900, 2200  # a mail client's reading pane, long enough for a team email


def html_with_inline_images(message: EmailMessage) -> str:
    """The message's HTML part with every ``cid:`` reference replaced by its part's data."""
    body = message.get_body(("html",))
    if body is None:
        raise ValueError(f"the message {message['Subject']!r} has no HTML part")
    html = str(body.get_content())
    for part in message.walk():
        content_id = part.get("Content-ID")
        if content_id and not part.is_multipart():
            data = base64.b64encode(part.get_payload(decode=True) or b"").decode("ascii")
            html = html.replace(f"cid:{content_id.strip('<>')}", f"data:{part.get_content_type()};base64,{data}")
    return html


def screenshot(eml: Path, png: Path, *, chromium: str = "chromium") -> Path:
    """Render one ``.eml``'s HTML in headless Chromium and save it as ``png``."""
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    if not isinstance(message, EmailMessage):  # policy.default always builds one; a guard for the type
        raise TypeError(f"{eml} did not parse as an email message")
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "email.html"
        page.write_text(html_with_inline_images(message), encoding="utf-8")
        command = [
            chromium,
            "--headless",
            "--no-sandbox",  # a container's root user; the page is the emails' own HTML
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={Path(folder) / 'profile'}",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--screenshot={png}",
            page.as_uri(),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    if not png.is_file():
        raise RuntimeError(f"Chromium wrote no screenshot for {eml}")
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("emails", type=Path, help="the folder of .eml files (make demo: out/emails)")
    parser.add_argument("images", type=Path, help="where the PNGs go (docs/images)")
    parser.add_argument("--emails", dest="names", nargs="+", default=list(DEFAULT_EMAILS), help="which .eml files")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        parser.error("Chromium is not installed (Debian package chromium)")
    args.images.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        written = screenshot(args.emails / f"{name}.eml", args.images / f"email-{name}.png", chromium=chromium)
        print(written)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
