"""``Enhancer(compile=True)`` / ``enhance --compile``: full-length chunks through torch.compile."""

from __future__ import annotations

import numpy as np
import pytest

from tfgridnet.cli import build_parser
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.metrics import snr


class CountingCalls:
    """Wraps the compiled module and counts the passes that went through it."""

    def __init__(self, module) -> None:
        self.module, self.calls = module, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.module(*args, **kwargs)


@pytest.mark.slow
def test_compiled_chunks_equal_eager_and_short_input_stays_eager(tiny_model, sr):
    x = np.random.default_rng(0).standard_normal(int(1.3 * sr)).astype(np.float32) * 0.1
    eager = Enhancer(tiny_model, sr, chunk_seconds=0.5, overlap_seconds=0.1).enhance(x, sr)
    enhancer = Enhancer(tiny_model, sr, chunk_seconds=0.5, overlap_seconds=0.1, compile=True)
    enhancer.runner.compiled = CountingCalls(enhancer.runner.compiled)
    compiled = enhancer.enhance(x, sr)
    # chunks at 0 and 0.4 s, then the last one ending at 1.3 s (0.8 s): three full-length passes
    assert enhancer.runner.compiled.calls == 3
    assert float(snr(compiled, eager)) > 60

    short = x[: int(0.3 * sr)]
    out = enhancer.enhance(short, sr)  # one pass of its own length: eager, no new graph
    assert enhancer.runner.compiled.calls == 3
    np.testing.assert_allclose(out, Enhancer(tiny_model, sr, chunk_seconds=0.5).enhance(short, sr),
                               atol=1e-6)


def test_compile_needs_the_torch_backend(tiny_model, sr):
    with pytest.raises(ValueError, match="compile=True needs backend='torch'"):
        Enhancer(tiny_model, sr, backend="onnx", compile=True)


def test_enhance_cli_passes_compile_through():
    parser = build_parser()
    assert parser.parse_args(["enhance", "m", "a.wav", "--out", "o", "--compile"]).compile
    assert not parser.parse_args(["enhance", "m", "a.wav", "--out", "o"]).compile
