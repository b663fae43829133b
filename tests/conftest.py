"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

# Why a `cuda`-marked test did not run, and where it does (pytest -ra lists skip reasons).
CUDA_SKIP_REASON = ("runs on a machine with a CUDA GPU (`pytest -m cuda`, or all GPU checks with "
                    "`bash bench/gpu_check.sh OUT`); torch here sees no CUDA device")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the `cuda`-marked tests, with one reason, where torch sees no GPU."""
    if torch.cuda.is_available():
        return
    for item in items:
        if item.get_closest_marker("cuda"):
            item.add_marker(pytest.mark.skip(reason=CUDA_SKIP_REASON))


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
def deny_writes(monkeypatch) -> Callable[[Path], None]:
    """``deny_writes(folder)`` after ``folder.chmod(0o500)``: as root, where permissions are not
    enforced, make ``os.access`` answer for ``folder`` what it answers a normal user (no W_OK),
    so the read-only branch runs on every machine; as a normal user the real check answers."""
    real_access = os.access

    def deny(folder: Path) -> None:
        if not real_access(folder, os.W_OK):
            return
        denied = Path(folder).resolve()

        def access(path, mode, *args, **kwargs) -> bool:
            if mode & os.W_OK and Path(path).resolve() == denied:
                return False
            return real_access(path, mode, *args, **kwargs)

        monkeypatch.setattr(os, "access", access)

    return deny


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
# The CPU classes a hardware branch is simulated on: their /proc/cpuinfo flags, and whether
# oneDNN has a bf16 LSTM there (any AVX-512 core: bf16 emulated on avx512_core, native with
# AVX512-BF16 or AMX; PyTorch's torch.ops.mkldnn._is_mkldnn_bf16_supported()).
CPU_CLASSES: dict[str, tuple[str, bool]] = {
    # AMD Zen 2/3, Intel Haswell to Alder Lake client parts
    "avx2": ("fpu sse2 avx avx2 fma", False),
    # Intel Skylake-SP to Ice Lake: AVX-512 without bf16 instructions
    "avx512": ("fpu sse2 avx avx2 fma avx512f avx512bw avx512vl avx512dq", True),
    # AMD Zen 4/5, Intel Cooper Lake: AVX512-BF16 dot products, no AMX
    "avx512_bf16": ("fpu sse2 avx avx2 fma avx512f avx512bw avx512vl avx512dq avx512_bf16", True),
    # Intel Sapphire Rapids and later: AMX tiles
    "amx": ("fpu sse2 avx avx2 fma avx512f avx512bw avx512vl avx512dq avx512_bf16 amx_tile "
            "amx_bf16", True),
}


@pytest.fixture
def simulate_cpu(monkeypatch, tmp_path: Path) -> Callable[[str], Path]:
    """Make every hardware query of this process answer as a CPU of one of :data:`CPU_CLASSES`
    (no CUDA): its /proc/cpuinfo and oneDNN's bf16 LSTM flag. Run the model under
    :class:`RnnOpDtypes` with ``emulate_bf16`` where this CPU cannot create a bf16 LSTM."""
    from tfgridnet import hardware
    from tfgridnet.model import recurrence

    def simulate(name: str) -> Path:
        flags, onednn_bf16 = CPU_CLASSES[name]
        path = tmp_path / f"cpuinfo_{name}"
        path.write_text(f"processor\t: 0\nmodel name\t: simulated {name} CPU\n"
                        f"flags\t\t: {flags}\n\n")
        monkeypatch.setattr(hardware, "CPUINFO", path)
        monkeypatch.setattr(recurrence, "ONEDNN_BF16_LSTM", onednn_bf16)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        return path

    return simulate


class RnnOpDtypes(TorchDispatchMode):
    """Records the dtype of the input of every oneDNN LSTM layer call
    (``aten::mkldnn_rnn_layer`` and its backward): CPU autocast casts there, inside the
    dispatcher, so ``nn.LSTM.forward`` still sees float32 while the LSTM runs in bf16.

    With ``emulate_bf16`` a bf16 call runs in float32 and its outputs are cast back to bf16, so a
    CPU whose oneDNN cannot create a bf16 LSTM (AVX2 only) follows the code path of one that can.
    """

    OPS = ("aten::mkldnn_rnn_layer", "aten::mkldnn_rnn_layer_backward")

    def __init__(self, emulate_bf16: bool = False):
        super().__init__()
        self.emulate_bf16 = emulate_bf16
        self.forward: list[torch.dtype] = []
        self.backward: list[torch.dtype] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.name() not in self.OPS:
            return func(*args, **kwargs)
        (self.forward if func.name() == self.OPS[0] else self.backward).append(args[0].dtype)
        if not (self.emulate_bf16 and args[0].dtype == torch.bfloat16):
            return func(*args, **kwargs)
        out = func(*tree_map(_to(torch.bfloat16, torch.float32), args),
                   **tree_map(_to(torch.bfloat16, torch.float32), kwargs))
        return tree_map(_to(torch.float32, torch.bfloat16), out)


def _to(source: torch.dtype, target: torch.dtype) -> Callable:
    return lambda t: t.to(target) if isinstance(t, torch.Tensor) and t.dtype == source else t


@pytest.fixture
def rnn_op_dtypes() -> type[RnnOpDtypes]:
    """:class:`RnnOpDtypes`, for tests to open as a context manager."""
    return RnnOpDtypes
@pytest.fixture(autouse=True, scope="session")
def private_check_cache(tmp_path_factory):
    """The data-check result cache of the tests lives in a temporary folder, never the user's
    (session scope: module-scoped fixtures run checks too)."""
    folder = tmp_path_factory.getbasetemp() / "check-cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TFGRIDNET_CACHE_DIR", str(folder))
        yield folder
