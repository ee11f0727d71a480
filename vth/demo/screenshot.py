"""A picture of the inspector's page, taken in headless Chromium (``vth demo --screenshot``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from vth.errors import VthError

#: Chromium's flags for a closed network: no background connections, no sandbox as root.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)


class ScreenshotError(VthError):
    """The screenshot could not be taken (no browser, or the page did not load)."""


def find_chromium() -> str | None:
    """Chromium's path: ``VTH_CHROMIUM``, Debian's ``/usr/bin/chromium``, or on PATH.

    None when none is there (also when ``VTH_CHROMIUM`` names a missing file).
    """
    given = os.environ.get("VTH_CHROMIUM")
    if given:
        return given if Path(given).exists() else None
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def take_screenshot(
    url: str,
    path: Path,
    *,
    select: str | None = None,
    width: int = 1366,
    height: int = 768,
    timeout_s: float = 30.0,
) -> Path:
    """Open ``url`` (the page at ``/ui/``), wait until it has loaded its alerts, save a PNG.

    Parameters
    ----------
    url
        The page.
    path
        Where the PNG goes (its folder is created).
    select
        CSS selector of an element to click first (e.g. an alert row, to show its detail).
    width, height
        The browser window, in CSS pixels.
    timeout_s
        How long the page may take to load and get ready.

    Raises
    ------
    ScreenshotError
        Without Playwright or Chromium (``apt-get install chromium``), or when the page
        does not get ready in time.
    """
    chromium = find_chromium()
    if chromium is None:
        raise ScreenshotError(
            "no Chromium found for the screenshot: apt-get install chromium, or set VTH_CHROMIUM"
        )
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise ScreenshotError(
            f"Playwright is not installed ({exc}): pip install playwright"
        ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
            try:
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(url, timeout=timeout_s * 1000)
                page.wait_for_selector('body[data-ready="1"]', timeout=timeout_s * 1000)
                if select is not None and page.locator(select).count():
                    page.locator(select).first.click()
                    page.wait_for_timeout(1500)
                page.screenshot(path=str(path))
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise ScreenshotError(f"screenshot of {url} failed: {exc}") from None
    return path
