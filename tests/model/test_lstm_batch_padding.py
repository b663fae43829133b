"""oneDNN's bf16 LSTM on the CPU is several times slower on a batch that is not a multiple of 8
(bench/RESULTS.md §10), so run_lstm pads the batch there and crops the output: same function."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tfgridnet.model import recurrence
from tfgridnet.model.recurrence import (
    ONEDNN_BF16_BATCH_MULTIPLE,
    ONEDNN_BF16_LSTM,
    lstm_batch_padding,
    run_lstm,
)

needs_onednn_bf16 = pytest.mark.skipif(
    not ONEDNN_BF16_LSTM,
    reason="runs oneDNN's real bf16 LSTM: needs an AVX-512 CPU (native bf16 with AVX512-BF16 or "
           "AMX: AMD Zen 4/5, Intel Xeon 4th gen+; emulated on older AVX-512 Xeons); this CPU "
           "cannot create one (AVX2 only), so the bf16 branch runs simulated here")


@pytest.fixture(params=["fp32 LSTM", "bf16 LSTM"])
def onednn_bf16(request, monkeypatch, rnn_op_dtypes):
    """Both oneDNN branches on any CPU: ``ONEDNN_BF16_LSTM`` as given, and, where this CPU has no
    bf16 LSTM, its bf16 calls emulated in float32 (the real kernel: the needs_onednn_bf16 test).
    Yields the open :class:`RnnOpDtypes` recorder."""
    bf16 = request.param == "bf16 LSTM"
    monkeypatch.setattr(recurrence, "ONEDNN_BF16_LSTM", bf16)
    with rnn_op_dtypes(emulate_bf16=bf16 and not ONEDNN_BF16_LSTM) as recorder:
        recorder.bf16 = bf16
        yield recorder


@pytest.mark.parametrize(("batch", "device", "dtype", "expected"), [
    (257, "cpu", torch.bfloat16, 7),    # -> 264 = 8 x 33
    (501, "cpu", torch.bfloat16, 3),    # -> 504 = 8 x 63
    (264, "cpu", torch.bfloat16, 0),
    (1040, "cpu", torch.bfloat16, 0),   # 8 x 130 = 8 x 2 x 5 x 13
    (229, "cpu", torch.bfloat16, 11),   # 232 = 8 x 29 is a slow size: -> 240 = 8 x 30
    (424, "cpu", torch.bfloat16, 8),    # 8 x 53 -> 432 = 8 x 54
    (985, "cpu", torch.bfloat16, 15),   # 992 = 8 x 4 x 31 is slow too: -> 1000 = 8 x 125
    (257, "cpu", None, 0),            # fp32: oneDNN is not batch-sensitive there
    (257, "cpu", torch.float32, 0),
    (257, "cuda", torch.bfloat16, 0),  # cuDNN: left alone
])
def test_batch_padding_only_for_cpu_bf16(batch, device, dtype, expected):
    assert lstm_batch_padding(batch, device, dtype) == expected


@pytest.fixture
def lstm_batches(monkeypatch) -> list[int]:
    """The batch size of every nn.LSTM call made while the test runs, in order."""
    seen: list[int] = []
    real_call = nn.LSTM.forward

    def spy(self, inputs, *args, **kwargs):
        seen.append(inputs.shape[1])
        return real_call(self, inputs, *args, **kwargs)

    monkeypatch.setattr(nn.LSTM, "forward", spy)
    return seen


def test_padded_bf16_lstm_is_the_same_function_on_the_real_rows(monkeypatch, lstm_batches,
                                                                 onednn_bf16):
    torch.manual_seed(0)
    rnn = nn.LSTM(12, 8, bidirectional=True).eval()
    x = torch.randn(20, 13, 12)  # [L, N=13, C]: 3 rows of padding to 16 where the LSTM is bf16
    seen = lstm_batches
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        padded = run_lstm(rnn, x)
    assert seen == [16 if onednn_bf16.bf16 else 13] and padded.shape == (20, 13, 16)
    monkeypatch.setattr(recurrence, "lstm_batch_padding", lambda *args: 0)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        plain = run_lstm(rnn, x)
    assert seen[1:] == [13]
    # each row depends on itself only; bf16 GEMM blocking may differ with the batch size
    torch.testing.assert_close(padded.float(), plain.float(), atol=2e-2, rtol=2e-2)


def _bf16_autocast_lstm_step(recorder):
    """One forward and backward of a BLSTM under CPU bf16 autocast, and its fp32 reference
    (computed first, then forgotten by ``recorder``)."""
    torch.manual_seed(0)
    rnn = nn.LSTM(12, 8, bidirectional=True)
    x = torch.randn(20, 16, 12, requires_grad=True)
    with torch.no_grad():
        reference = rnn(x)[0]
    recorder.forward.clear()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = run_lstm(rnn, x)
    out.float().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in rnn.parameters())
    return out, reference


def test_cpu_bf16_autocast_lstm_runs_in_fp32_where_onednn_has_no_bf16(onednn_bf16):
    """On an AVX2-only CPU oneDNN cannot create a bf16 LSTM: bf16 autocast (--precision bf16,
    trainer.precision bf16-mixed) must still run there, with the LSTM in float32; where oneDNN
    has one (simulated here where it has not), autocast's own bf16 LSTM runs. Observed where the
    cast happens: the dtype the oneDNN LSTM op receives (not nn.LSTM.forward's input, which
    autocast leaves in float32) and the dtype it returns."""
    out, reference = _bf16_autocast_lstm_step(onednn_bf16)
    want = torch.bfloat16 if onednn_bf16.bf16 else torch.float32
    assert out.dtype == want
    assert onednn_bf16.forward == [want, want]  # one call per direction
    assert onednn_bf16.backward == [want, want]
    tol = 2e-2 if onednn_bf16.bf16 else 1e-6
    torch.testing.assert_close(out.float(), reference, atol=tol, rtol=tol)


@needs_onednn_bf16
def test_real_onednn_bf16_lstm_runs_in_bf16_under_cpu_autocast(rnn_op_dtypes):
    """The real kernel, where this CPU has it: no emulation, no patched flag."""
    with rnn_op_dtypes() as recorded:
        out, reference = _bf16_autocast_lstm_step(recorded)
    assert out.dtype == torch.bfloat16
    assert recorded.forward == recorded.backward == [torch.bfloat16] * 2
    torch.testing.assert_close(out.float(), reference, atol=2e-2, rtol=2e-2)


def test_padding_keeps_gradients_of_the_real_rows():
    torch.manual_seed(0)
    rnn = nn.LSTM(6, 4, bidirectional=True)
    x = torch.randn(5, 3, 6, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        run_lstm(rnn, x).float().sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape and torch.isfinite(x.grad).all()
    assert ONEDNN_BF16_BATCH_MULTIPLE == 8


@pytest.mark.parametrize("batch", range(1, 3000, 7))
def test_padded_batch_is_a_multiple_of_8_with_a_13_smooth_eighth(batch):
    padded = batch + lstm_batch_padding(batch, "cpu", torch.bfloat16)
    blocks = padded // 8
    assert padded % 8 == 0 and padded - batch < max(8, batch // 8)
    for p in (2, 3, 5, 7, 11, 13):
        while blocks % p == 0:
            blocks //= p
    assert blocks == 1


def test_cpu_bf16_attention_path_is_the_same_function_as_sdpa():
    from tfgridnet.model.tfgridnetv2 import full_band_attention

    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 37, 24) for _ in range(3))
    want = torch.nn.functional.scaled_dot_product_attention(q.double(), k.double(), v.double())
    assert torch.allclose(full_band_attention(q, k, v).double(), want, atol=1e-5)  # fp32: SDPA
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = full_band_attention(q, k, v)
    assert torch.allclose(got.double(), want, atol=3e-2)


def test_row_blocks_only_in_single_thread_cpu_inference_and_balanced():
    from tfgridnet.model.recurrence import ONEDNN_ROW_BLOCK, lstm_row_block

    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with torch.inference_mode():
            assert ONEDNN_ROW_BLOCK == 48
            assert lstm_row_block(100, "cpu") == 40  # 40 + 40 + 20, not 48 + 48 + 4
            assert lstm_row_block(257, "cpu") == 48
            assert lstm_row_block(ONEDNN_ROW_BLOCK, "cpu") is None
            assert lstm_row_block(257, "cuda") is None
        assert lstm_row_block(257, "cpu") is None  # autograd: training gains nothing
        torch.set_num_threads(2)
        with torch.inference_mode():
            assert lstm_row_block(257, "cpu") is None
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize("autocast", [False, True])
def test_row_blocks_are_the_same_function(monkeypatch, lstm_batches, autocast, one_torch_thread,
                                          onednn_bf16):
    torch.manual_seed(0)
    rnn = nn.LSTM(12, 8, bidirectional=True).eval()
    x = torch.randn(20, 150, 12)  # [L, N=150, C]: blocks 40, 40, 40, 30 (bf16: 30 -> 32, 150 -> 160)
    seen = lstm_batches
    # no_grad, not inference_mode (row blocks need either): under inference_mode a dispatch mode
    # (the recorder) is handed aten::lstm whole and runs it below autocast, in float32.
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        blocked = run_lstm(rnn, x)
        monkeypatch.setattr(recurrence, "lstm_row_block", lambda *args: None)
        whole = run_lstm(rnn, x)
    bf16 = autocast and onednn_bf16.bf16  # elsewhere the LSTM runs in fp32, unpadded
    assert seen == ([40, 40, 40, 32, 160] if bf16 else [40, 40, 40, 30, 150])
    assert set(onednn_bf16.forward) == {torch.bfloat16 if bf16 else torch.float32}
    assert blocked.shape == whole.shape == (20, 150, 16)
    tol = 2e-2 if bf16 else 1e-6
    torch.testing.assert_close(blocked.float(), whole.float(), atol=tol, rtol=tol)
