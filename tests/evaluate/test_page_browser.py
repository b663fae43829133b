"""The listening page in a real headless Chromium, driven by Playwright.

The ``page`` fixture (tests/conftest.py) drives the system's Chromium: the test is skipped where none
is installed, and fails in CI (``CI`` set), where .ci/run installs it.
"""

from __future__ import annotations

import pytest
import torch

from tfgridnet.evaluation.evaluate import evaluate
from tfgridnet.inference.enhancer import Enhancer


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
