"""Headless Chromium for the web UI tests and benchmarks: Debian's ``chromium`` driven by
Playwright through ``executable_path`` (Playwright's own browser download is not reachable
from these machines). ``scripts/test`` installs both and sets ``LAMBDARAG_BROWSER_TESTS=1``,
which turns a missing browser from a skip into a failure."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path(os.environ.get("LAMBDARAG_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium waits on refused connections (no internet).
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1400, "height": 900}
# The tests take screenshots of each tab on every run; LAMBDARAG_UPDATE_SCREENSHOTS=1 writes
# them over docs/screenshots/ (committed, shown in the README), otherwise they go to a
# temporary folder so that a test run leaves the work tree clean.
DOC_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCREENSHOTS = (DOC_SCREENSHOTS if os.environ.get("LAMBDARAG_UPDATE_SCREENSHOTS") == "1"
               else Path(tempfile.gettempdir()) / "lambdarag-screenshots")


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python playwright package is not installed (scripts/bootstrap installs it)"
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing (apt-get install chromium; scripts/test does it)"
    return None


def require_browser() -> None:
    problem = missing()
    if problem is None:
        return
    if os.environ.get("LAMBDARAG_BROWSER_TESTS") == "1":
        pytest.fail(f"web UI tests cannot run: {problem}")
    pytest.skip(problem)


@contextmanager
def chromium(**launch: Any) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, **launch)
        try:
            yield browser
        finally:
            browser.close()
