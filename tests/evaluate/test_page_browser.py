"""The listening page in a real headless Chromium, driven over the DevTools protocol."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request

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
    pytest.skip("chromium not installed (Debian: apt-get install chromium); CI runs this test")


class DevTools:
    """Minimal Chrome DevTools Protocol client: send commands, keep every event."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.events.append(json.loads(self.ws.recv()))

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                           returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")


@pytest.fixture
def browser(tmp_path):
    binary = _require_chromium()
    process = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={tmp_path / 'profile'}",
         "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            port = int(match.group(1)) if match else None
            if not line and process.poll() is not None:
                break
        assert port, "chromium did not start its DevTools endpoint"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            pages = [t for t in json.load(reply) if t["type"] == "page"]
        client = DevTools(pages[0]["webSocketDebuggerUrl"])
        yield client
        client.ws.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


class Halve(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x + 0.01 * torch.sin(torch.arange(x.shape[-1]) * 0.3)


@pytest.mark.browser
def test_listening_page_loads_sorts_and_plays_from_disk(browser, pairs_manifest, tmp_path, sr):
    out = tmp_path / "eval"
    evaluate(Enhancer(Halve(), sr), pairs_manifest, out, n_plots=1, progress=False)
    for domain in ("Runtime", "Log", "Page"):
        browser.call(f"{domain}.enable")
    browser.call("Page.navigate", url=(out / "index.html").resolve().as_uri())
    browser.wait_for("Page.loadEventFired")

    column = browser.evaluate(
        "Array.from(document.querySelectorAll('#results th')).findIndex("
        "th => th.textContent === 'sisnr_improvement')")
    read_column = (f"Array.from(document.querySelectorAll('#results tbody tr')).map("
                   f"r => Number(r.cells[{column}].getAttribute('data-value')))")
    header = f"document.querySelectorAll('#results th')[{column}]"
    browser.evaluate(f"{header}.click()")
    ascending = browser.evaluate(read_column)
    browser.evaluate(f"{header}.click()")
    descending = browser.evaluate(read_column)
    assert len(ascending) == 4 and ascending == sorted(ascending) and ascending[0] < ascending[-1]
    assert descending == sorted(ascending, reverse=True)
    assert browser.evaluate(f"{header}.getAttribute('aria-sort')") == "descending"

    durations = browser.evaluate(
        "Promise.all(Array.from(document.querySelectorAll('audio')).map(a => "
        "a.readyState >= 1 ? a.duration : new Promise((ok, fail) => {"
        "a.addEventListener('loadedmetadata', () => ok(a.duration));"
        "a.addEventListener('error', () => fail('audio error ' + a.dataset.kind)); a.load(); })))")
    assert len(durations) == 6  # best and worst, three players each
    assert all(d == pytest.approx(1.0, abs=0.01) for d in durations)

    images = browser.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth)")
    assert images and all(width == 1800 for width in images)
    errors = [e for e in browser.events
              if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled"
                  and e["params"]["type"] in ("error", "assert"))
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert not errors, errors
