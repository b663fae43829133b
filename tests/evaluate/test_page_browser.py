"""The listening page in a real headless Chromium, driven by Playwright.

Playwright drives the system's Chromium (found on PATH; no browser download): the test is skipped
where none is installed, and fails in CI (``CI`` set), where .ci/run installs it.
"""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from tfgridnet.evaluation.evaluate import evaluate
from tfgridnet.inference.enhancer import Enhancer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which(
    "google-chrome")


def _require_chromium() -> str:
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail("CI is set but no chromium is installed (apt-get install chromium)")
    pytest.skip("runs where a Chromium is installed: CI (.ci/run installs it, and fails this test "
                "without one) or after `apt-get install chromium`; none on PATH here")


@pytest.fixture
def page():
    """A Playwright page of the system Chromium; ``page.problems`` collects script errors and
    console errors."""
    binary = _require_chromium()
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs playwright, a test extra (`make install` has it)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=binary, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"])
        try:
            tab = browser.new_page()
            problems: list[str] = []
            tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            tab.on("console", lambda message: problems.append(f"console: {message.text}")
                   if message.type in ("error", "assert") else None)
            tab.problems = problems
            yield tab
        finally:
            browser.close()


class Halve(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x + 0.01 * torch.sin(torch.arange(x.shape[-1]) * 0.3)


@pytest.mark.browser
def test_listening_page_loads_sorts_and_plays_from_disk(page, pairs_manifest, tmp_path, sr):
    out = tmp_path / "eval"
    evaluate(Enhancer(Halve(), sr), pairs_manifest, out, n_plots=1, progress=False)
    page.goto((out / "index.html").resolve().as_uri(), wait_until="load")

    headers = page.locator("#results th")
    column = headers.all_text_contents().index("sisnr_improvement")
    read_column = (f"Array.from(document.querySelectorAll('#results tbody tr')).map("
                   f"r => Number(r.cells[{column}].getAttribute('data-value')))")
    header = headers.nth(column)
    header.click()
    ascending = page.evaluate(read_column)
    header.click()
    descending = page.evaluate(read_column)
    assert len(ascending) == 4 and ascending == sorted(ascending) and ascending[0] < ascending[-1]
    assert descending == sorted(ascending, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"

    durations = page.evaluate(
        "Promise.all(Array.from(document.querySelectorAll('audio')).map(a => "
        "a.readyState >= 1 ? a.duration : new Promise((ok, fail) => {"
        "a.addEventListener('loadedmetadata', () => ok(a.duration));"
        "a.addEventListener('error', () => fail('audio error ' + a.dataset.kind)); a.load(); })))")
    assert len(durations) == 6  # best and worst, three players each
    assert all(d == pytest.approx(1.0, abs=0.01) for d in durations)

    images = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth)")
    assert images and all(width == 1800 for width in images)
    assert not page.problems, page.problems
