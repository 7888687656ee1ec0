"""Screenshots of the Readiness page from `make demo`'s warehouse: docs/images/ from the real output.

The page is rendered as static files (``oncall_readiness.report.page.static``, the same views and
templates the Airflow plugin serves) from the warehouse, and headless Chromium photographs the
scorecard (heatmap and filters), a filtered view (its filters run in the page, from the URL's
fragment), a team page with its per-check timeline and the campaigns with their burn-ups. The
README's screenshot is this script's output, so it cannot drift from what the demo produces::

    make demo
    .venv/bin/python -m readiness_sandbox.page_screenshots out/warehouse.duckdb docs/images
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

from oncall_readiness.report.page.queries import organisation_scorecard
from oncall_readiness.report.page.static import write_static_pages
from oncall_readiness.warehouse import Warehouse

WIDTH = 1440
# (image, page, fragment, height): the fragment sets the page's filters, as a shared link would.
SHOTS = (
    ("readiness-page.png", "index.html", "", 1500),
    ("readiness-page-filtered.png", "index.html", "#status=fail", 1100),
    ("readiness-campaigns.png", "campaigns.html", "", 1100),
)


def screenshot(page: Path, png: Path, *, chromium: str, fragment: str = "", height: int = 1200) -> Path:
    """Photograph one static page (``fragment`` appended to its URL) as ``png``."""
    with tempfile.TemporaryDirectory() as profile:
        command = [
            chromium,
            "--headless",
            "--no-sandbox",  # a container's root user; the page is the project's own HTML
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{height}",
            "--virtual-time-budget=2000",  # let the page's filter script run before the picture
            f"--screenshot={png}",
            page.as_uri() + fragment,
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    if not png.is_file():
        raise RuntimeError(f"Chromium wrote no screenshot of {page}")
    return png


def team_to_show(warehouse: Warehouse) -> str | None:
    """The team whose page tells the most: the first whose level dropped, else the lowest scored."""
    card = organisation_scorecard(warehouse, sort="score", descending=False)
    if card is None or not card.teams:
        return None
    return (card.level_drops or card.teams)[0].team


def take(warehouse_path: Path, images: Path, *, chromium: str) -> list[Path]:
    """Every screenshot of the page from the warehouse at ``warehouse_path``; the images written."""
    warehouse = Warehouse(f"duckdb:///{warehouse_path}?access_mode=read_only")
    images.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory() as folder:
            site = Path(folder)
            if not write_static_pages(warehouse, site):
                raise SystemExit(f"{warehouse_path} holds no audit: run make demo first")
            taken = [
                screenshot(site / page, images / name, chromium=chromium, fragment=fragment, height=height)
                for name, page, fragment, height in SHOTS
            ]
            team = team_to_show(warehouse)
            if team is not None:
                page = site / "teams" / f"{quote(team, safe='')}.html"
                taken.append(screenshot(page, images / "readiness-team-page.png", chromium=chromium, height=1300))
    finally:
        warehouse.dispose()
    return taken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path, help="make demo's warehouse (out/warehouse.duckdb)")
    parser.add_argument("images", type=Path, help="where the PNGs go (docs/images)")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        parser.error("Chromium is not installed (Debian package chromium)")
    for path in take(args.warehouse, args.images, chromium=chromium):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
