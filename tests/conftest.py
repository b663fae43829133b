"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

# Flags of an x86 CPU without native bf16; tests add amx_bf16 / avx512_bf16 to it.
PLAIN_CPU_FLAGS = "fpu vme sse sse2 avx avx2 avx512f avx512bw"


@pytest.fixture
def fake_cpuinfo(tmp_path: Path) -> Callable[[str], Path]:
    """Write a two-processor /proc/cpuinfo with the plain flags plus ``extra``; return its path."""

    def write(extra: str = "") -> Path:
        flags = f"{PLAIN_CPU_FLAGS} {extra}".strip()
        path = tmp_path / f"cpuinfo_{abs(hash(extra))}"
        path.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n"
                        f"processor\t: 1\nflags\t\t: {flags}\n")
        return path

    return write


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: on a shared 2-core CI box, two threads spin-wait on each other."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# --- a real headless Chromium, driven by Playwright --------------------------------------------
# Playwright drives the system's Chromium (found on PATH; no browser download). Where none is
# installed the browser tests skip, naming the machine that runs them; in CI (``CI`` set), where
# .ci/run installs Debian's chromium, they fail instead.

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which(
    "google-chrome")
BROWSER_MACHINE = "the CI machine runs it (.ci/run installs Debian's chromium)"


def _require_browser() -> tuple[str, Any]:
    try:
        from playwright import sync_api
    except ImportError:
        sync_api = None
    missing = ("chromium not installed on this machine (Debian: apt-get install chromium)"
               if not CHROMIUM else
               "playwright not installed (pip install -e '.[test]')" if sync_api is None else "")
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI is set but {missing}")
    if missing:
        pytest.skip(f"{missing}; {BROWSER_MACHINE}")
    return CHROMIUM, sync_api


@pytest.fixture
def chromium():
    """``chromium(width=1280, height=800)`` opens a tab of the system Chromium (headless, as root,
    no GPU, no network needed); each tab's ``problems`` collect script and console errors."""
    binary, sync_api = _require_browser()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=binary, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"])

        def open_tab(width: int = 1280, height: int = 800):
            tab = browser.new_page(viewport={"width": width, "height": height})
            problems: list[str] = []
            tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            tab.on("console", lambda message: problems.append(f"console: {message.text}")
                   if message.type in ("error", "assert") else None)
            tab.problems = problems
            return tab

        try:
            yield open_tab
        finally:
            browser.close()


@pytest.fixture
def page(chromium):
    """One 1280 x 800 tab of the system Chromium."""
    return chromium()
