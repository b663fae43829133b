"""The BLSTMs under mixed precision: run them in the dtype the user asked for, not in fp16.

PyTorch's CUDA autocast hard-codes float16 for cuDNN RNNs (``_cudnn_rnn``), whatever dtype the
autocast region was opened with. Under Lightning's ``bf16-mixed`` there is no gradient scaler, so
the LSTMs' backward would run in fp16 with nothing guarding its range (smallest normal 6.1e-5).
Here, inside a CUDA bf16 autocast region, each LSTM runs outside autocast in bfloat16 (cuDNN takes
bf16 RNN input from version 9.13 on) or, with an older cuDNN, in float32. CPU autocast already runs
oneDNN's LSTM in the region's own dtype (it casts inside the dispatcher, at
``aten::mkldnn_rnn_layer``, not at ``nn.LSTM``'s input; the output is bf16), so its dtype is
left alone, except on CPUs where oneDNN has no bf16 LSTM at all (AVX2 only: no AVX512 core, AMX
or ARM bf16; a float32 input there, in training or inference, fails to create the primitive),
which run it in float32. oneDNN's bf16 LSTM (v3.12)
is 2-4x slower on some batch sizes: any that is not a multiple of 8 (257 frequency rows, an odd
frame count), and multiples of 8 whose eighth has a large prime factor (232 = 8 x 29, 424 = 8 x 53,
992 = 8 x 124 = 8 x 4 x 31; the sweep is in bench/RESULTS.md §10). There the batch is zero-padded
to the next multiple of 8 whose eighth has no prime factor above 13, and the output is cropped.
In CPU inference on one thread, large batches also run in row blocks of ~48 sequences (faster: the
gates of a block stay in cache). Batch rows are independent, so the function is unchanged.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from tfgridnet.hardware import onednn_has_bf16

__all__ = ["CUDNN_BF16_RNN_VERSION", "ONEDNN_BF16_BATCH_MULTIPLE", "ONEDNN_BF16_LARGEST_PRIME",
           "ONEDNN_BF16_LSTM", "ONEDNN_ROW_BLOCK", "lstm_batch_padding", "lstm_compute_dtype", "lstm_row_block",
           "run_lstm"]

# First cuDNN release whose RNN kernels accept bfloat16 input (PyTorch #164411).
CUDNN_BF16_RNN_VERSION = 91300
# oneDNN's CPU bf16 LSTM runs at full speed on batches that are a multiple of this...
ONEDNN_BF16_BATCH_MULTIPLE = 8
# ...when the quotient has no prime factor above this (measured, bench/RESULTS.md §10).
ONEDNN_BF16_LARGEST_PRIME = 13
# In CPU inference on one thread, oneDNN's LSTM runs faster on blocks of about this many
# sequences than on a whole batch of 250+ (a block's gates and states stay in cache): the seed
# model's BLSTM (128 units, 257 steps, 256 sequences) takes 0.29 s in blocks of 48 against 0.38 s
# whole in fp32, 0.11 against 0.17 s in bf16; 64 and more lose most of it. On two threads blocks
# gain nothing (bench/RESULTS.md §33, §37). A multiple of 8, as bf16 wants.
ONEDNN_ROW_BLOCK = 48


# Whether a CPU LSTM under bf16 autocast can run in bf16 here (hardware.onednn_has_bf16).
ONEDNN_BF16_LSTM = onednn_has_bf16()


def lstm_compute_dtype(device_type: str, autocast_dtype: torch.dtype | None,
                       cudnn_version: int | None,
                       onednn_bf16_lstm: bool = ONEDNN_BF16_LSTM) -> torch.dtype | None:
    """The dtype an LSTM must run in explicitly, or None where autocast already gets it right.

    ``autocast_dtype`` is the enclosing autocast region's dtype on ``device_type`` (None: no
    autocast). CUDA with a non-fp16 region needs help (autocast would give the LSTM fp16), and so
    does a CPU bf16 region where oneDNN has no bf16 LSTM (``onednn_bf16_lstm`` False): float32.
    """
    if device_type == "cpu" and autocast_dtype == torch.bfloat16 and not onednn_bf16_lstm:
        return torch.float32
    if device_type != "cuda" or autocast_dtype in (None, torch.float16):
        return None
    if autocast_dtype == torch.bfloat16 and (cudnn_version or 0) >= CUDNN_BF16_RNN_VERSION:
        return torch.bfloat16
    return torch.float32


def lstm_batch_padding(batch: int, device_type: str, dtype: torch.dtype | None) -> int:
    """Rows of zeros to append to an LSTM batch so oneDNN's CPU bf16 kernel runs at full speed."""
    if device_type != "cpu" or dtype != torch.bfloat16:
        return 0
    blocks = -(-batch // ONEDNN_BF16_BATCH_MULTIPLE)
    while not _smooth(blocks, ONEDNN_BF16_LARGEST_PRIME):
        blocks += 1
    return blocks * ONEDNN_BF16_BATCH_MULTIPLE - batch


def _smooth(n: int, largest_prime: int) -> bool:
    """True when no prime factor of ``n`` exceeds ``largest_prime``."""
    for p in range(2, largest_prime + 1):
        while n % p == 0:
            n //= p
    return n == 1


def lstm_row_block(batch: int | torch.SymInt, device_type: str) -> int | None:
    """Sequences per LSTM call, or None for the whole batch at once: blocks of
    :data:`ONEDNN_ROW_BLOCK` only in CPU inference on one intra-op thread (never under autograd,
    and never while a graph is traced or exported, where the batch is symbolic)."""
    if (device_type != "cpu" or type(batch) is not int or batch <= ONEDNN_ROW_BLOCK
            or torch.is_grad_enabled() or torch.get_num_threads() != 1
            or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export()):
        return None
    blocks = -(-batch // ONEDNN_ROW_BLOCK)  # balanced: 100 rows -> 40 + 40 + 20, not 48 + 48 + 4
    size = -(-batch // blocks)
    return -(-size // ONEDNN_BF16_BATCH_MULTIPLE) * ONEDNN_BF16_BATCH_MULTIPLE


def run_lstm(rnn: nn.LSTM, x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``rnn(x)[0]``, in ``dtype`` when given, else in :func:`lstm_compute_dtype`'s choice.

    The weights are cast per call (differentiably, so their float32 masters get the gradient);
    cuDNN then packs them itself, which costs a copy of a few hundred kB per call. Sequences are
    independent, so running them in row blocks (:func:`lstm_row_block`) changes nothing but speed.
    """
    rows = lstm_row_block(x.shape[1], x.device.type)  # [L, N, C], sequence-first
    if rows is None:
        return _run_lstm(rnn, x, dtype)
    return torch.cat([_run_lstm(rnn, block, dtype) for block in x.split(rows, dim=1)], dim=1)


def _run_lstm(rnn: nn.LSTM, x: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    device_type = x.device.type
    autocast = (torch.get_autocast_dtype(device_type)
                if torch.is_autocast_enabled(device_type) else None)
    if dtype is None:
        dtype = lstm_compute_dtype(
            device_type, autocast, torch.backends.cudnn.version() if x.is_cuda else None,
            ONEDNN_BF16_LSTM)
    batch = x.shape[1]  # [L, N, C], sequence-first
    pad = lstm_batch_padding(batch, device_type, dtype or autocast or x.dtype)
    if pad:
        x = F.pad(x, (0, 0, 0, pad))
    if dtype is None:
        return _crop(rnn(x)[0], batch)
    params = {name: param.to(dtype) for name, param in rnn.named_parameters()}
    with torch.autocast(x.device.type, enabled=False), warnings.catch_warnings():
        # The cast weights are, by construction, not one contiguous cuDNN buffer.
        warnings.filterwarnings("ignore", message="RNN module weights are not part of single")
        return _crop(functional_call(rnn, params, (x.to(dtype),))[0], batch)


def _crop(out: torch.Tensor, batch: int) -> torch.Tensor:
    """The real rows of a padded [L, N, 2H] output, contiguous: the projection that follows runs
    as one GEMM on contiguous input but as a broadcast bmm (2.5x slower) on a strided view."""
    return out if out.shape[1] == batch else out[:, :batch].contiguous()
