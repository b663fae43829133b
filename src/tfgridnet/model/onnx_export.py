"""Export the whole TF-GridNetV2 enhancer to ONNX: waveform in, waveform out.

ONNX has no complex tensors and no inverse STFT, so the graph re-expresses the model's STFT pair
(:mod:`tfgridnet.model.stft`) with real operators around the trained layers, which it reuses as
they are:

* analysis: reflect padding, then either a 1-D convolution with a windowed DFT basis
  (``stft="matrix"``, the default) or the ONNX ``STFT`` operator of opset 17 (``stft="op"``);
* synthesis: a transposed 1-D convolution with the windowed inverse-DFT basis (overlap-add),
  divided by the overlap-added squared window, the same normalisation as ``torch.istft``.

Everything else matches ``TFGridNetV2.forward`` for one microphone and one output: the unbiased
std normalisation with its floor, zero padding to a multiple of the hop and the crop back. The
choice of the default STFT is measured in bench/RESULTS.md (parity and onnxruntime speed).
"""

from __future__ import annotations

import copy
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tfgridnet.errors import UserInputError
from tfgridnet.fileio import atomic_path
from tfgridnet.model.stack import STD_FLOOR
from tfgridnet.model.tfgridnetv2 import TFGridNetV2
from tfgridnet.onnx_contract import (
    INPUT_NAME,
    META_SAMPLE_RATE,
    META_STFT,
    ONNX_NAME,
    OUTPUT_NAME,
)

__all__ = ["ONNX_NAME", "OPSET", "STFT_MODES", "WaveformGraph", "dft_bases", "export_onnx",
           "export_onnx_dir", "fast_activations"]

# The dynamo exporter writes opset 18 (its Pad has no down-converter to 17); STFT exists since 17.
OPSET = 18
STFT_MODES = ("matrix", "op")
# Why a TF-GridNetV3 model is not exported (also in docs/deployment.md and `export --help`).
V2_ONLY_REASON = ("TF-GridNetV3 scales its STFT window and hop with each input's sample rate, and "
                  "the exporter fixes every size when it traces the graph, so one graph cannot run "
                  "at every rate; enhance V3 models with the torch backend")
# Traced example length in frames: tracing the LSTMs costs time per frame.
EXAMPLE_FRAMES = 9


def dft_bases(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Windowed one-sided DFT basis and its inverse, each ``[2F, 1, n_fft]`` (real rows, then imag).

    Analysis row k: ``w[n] cos(2 pi k n / N)`` and ``-w[n] sin(...)`` (torch.stft's sign). Synthesis
    is ``irfft`` times the window: bins 1..N/2-1 count twice, and the imaginary parts of DC and
    Nyquist drop out because their sines are zero. Built in float64, returned as float32.
    """
    n_fft = window.shape[0]
    k = np.arange(n_fft // 2 + 1)[:, None]
    angle = 2.0 * np.pi * k * np.arange(n_fft)[None, :] / n_fft  # [F, N]
    w = window.astype(np.float64)[None, :]
    analysis = np.concatenate([np.cos(angle) * w, -np.sin(angle) * w])
    scale = np.full((k.shape[0], 1), 2.0 / n_fft)
    scale[0] = scale[-1] = 1.0 / n_fft
    synthesis = np.concatenate([np.cos(angle) * scale * w, -np.sin(angle) * scale * w])
    return (analysis[:, None, :].astype(np.float32), synthesis[:, None, :].astype(np.float32))


class _SlopeMax(nn.Module):
    """``nn.PReLU`` whose slopes are all <= 1, as ``max(x, slope * x)``: the same function (for
    x >= 0, x >= slope * x; for x < 0, slope * x >= x), and onnxruntime runs Mul + Max 3-5x faster
    than its broadcasting PRelu (bench/RESULTS.md §33)."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("slope", weight.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # one slope per channel of axis 1, as nn.PReLU
        return torch.maximum(x, x * self.slope.view(1, -1, *([1] * (x.dim() - 2))))


def fast_activations(model: nn.Module) -> nn.Module:
    """Replace ``model``'s PReLUs (in place) by the same functions onnxruntime runs faster.

    One slope: ``LeakyReLU`` with that slope (an attribute, exact). Several slopes, all <= 1:
    :class:`_SlopeMax`. Otherwise the PReLU stays. Only for a copy that is being exported: the
    slopes become constants.
    """
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if not isinstance(child, nn.PReLU):
                continue
            if child.weight.numel() == 1:
                setattr(parent, name, nn.LeakyReLU(float(child.weight.detach())))
            elif bool((child.weight <= 1).all()):
                setattr(parent, name, _SlopeMax(child.weight))
    return model


class WaveformGraph(nn.Module):
    """``TFGridNetV2`` as real-valued operators only; ``forward(noisy [B, N]) -> [B, N]``."""

    def __init__(self, model: TFGridNetV2, stft: str = "matrix") -> None:
        super().__init__()
        if not isinstance(model, TFGridNetV2):
            raise UserInputError(f"ONNX export covers TF-GridNetV2 models only, got "
                                 f"{type(model).__name__}: {V2_ONLY_REASON}")
        if stft not in STFT_MODES:
            raise UserInputError(f"stft={stft!r}, expected one of {STFT_MODES}")
        if model.n_srcs != 1 or model.n_imics != 1:
            raise UserInputError("ONNX export covers enhancement models (n_srcs=1, n_imics=1), got "
                             f"n_srcs={model.n_srcs}, n_imics={model.n_imics}")
        self.model = model.eval()
        self.stft_mode = stft
        self.n_fft, self.hop = model.stft.n_fft, model.stft.hop
        window = model.stft.window.detach().cpu().double().numpy()
        analysis, synthesis = dft_bases(window)
        self.register_buffer("analysis", torch.from_numpy(analysis))
        self.register_buffer("synthesis", torch.from_numpy(synthesis))
        self.register_buffer("window", torch.from_numpy(window.astype(np.float32)))
        self.register_buffer("window_sq", torch.from_numpy((window ** 2).astype(np.float32))[None, None])

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        n_samples = noisy.shape[1]
        x = noisy.float()
        std = x.std(dim=1, keepdim=True).clamp_min(STD_FLOOR)  # [B, 1], unbiased as in the model
        x = x / std
        # Zero padding to a multiple of the hop without data-dependent pad sizes: pad by hop - 1
        # and slice to ceil(N / hop) * hop.
        padded_len = (n_samples + self.hop - 1) // self.hop * self.hop
        x = torch.cat([x, torch.zeros_like(x[:, :1]).expand(-1, self.hop - 1)], dim=1)
        x = x[:, :padded_len]
        half = self.n_fft // 2
        x = F.pad(x[:, None, :], (half, half), mode="reflect")  # [B, 1, L + n_fft]
        h = self._analysis(x)  # [B, 2, T, F]: real, imag

        h = self.model._network(h, channel_last_embed=True)  # [B, 2, T, F]

        spec = h.transpose(2, 3).flatten(1, 2)  # [B, 2F, T]: real bins, then imaginary bins
        frames = F.conv_transpose1d(spec, self.synthesis, stride=self.hop)  # [B, 1, (T-1)hop+N]
        envelope = F.conv_transpose1d(torch.ones_like(spec[:1, :1]), self.window_sq,
                                      stride=self.hop)  # [1, 1, (T-1)hop+N]
        out = frames[:, 0, half:half + n_samples] / envelope[:, 0, half:half + n_samples]
        return out * std

    def _analysis(self, x: torch.Tensor) -> torch.Tensor:
        """Reflect-padded ``[B, 1, L + n_fft]`` -> ``[B, 2, T, F]``, T = 1 + L / hop."""
        if self.stft_mode == "matrix":
            spec = F.conv1d(x, self.analysis, stride=self.hop)  # [B, 2F, T]
            return spec.unflatten(1, (2, -1)).transpose(2, 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # return_complex=False: ONNX has no complex type
            spec = torch.stft(x[:, 0], self.n_fft, hop_length=self.hop, win_length=self.n_fft,
                              window=self.window, center=False, onesided=True,
                              return_complex=False)  # [B, F, T, 2]
        return spec.permute(0, 3, 2, 1)


def export_onnx_dir(export_dir: Path, stft: str = "matrix") -> Path:
    """Write ``model.onnx`` beside the safetensors export in ``export_dir``; return its path."""
    from tfgridnet.model.io import load_model

    model = load_model(export_dir)
    return export_onnx(model, Path(export_dir) / ONNX_NAME, model.sample_rate, stft=stft)


def export_onnx(model: TFGridNetV2, out_path: Path, sample_rate: int, stft: str = "matrix") -> Path:
    """Write the whole enhancer as ONNX (opset 18) to ``out_path`` atomically; return it.

    Input ``noisy`` float32 [batch, samples], output ``enhanced`` [batch, samples]; both axes are
    dynamic. The sample rate and STFT variant are stored in the file's metadata.
    """
    import onnx

    graph = WaveformGraph(fast_activations(copy.deepcopy(model).cpu().float()), stft=stft).eval()
    # Not a hop multiple, so the padding is traced; both axes stay symbolic.
    example = torch.randn(2, EXAMPLE_FRAMES * graph.hop + 7)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # registration chatter (e.g. "torchvision not installed")
    try:
        with atomic_path(out_path) as tmp, torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic
            dim = torch.export.Dim.DYNAMIC
            # optimize=False: onnxruntime optimises the graph itself at load time.
            torch.onnx.export(
                graph, (example,), str(tmp), dynamo=True, opset_version=OPSET,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: dim, 1: dim},), external_data=False, verbose=False,
                optimize=False,
            )
            proto = onnx.load(str(tmp))
            for key, value in ((META_SAMPLE_RATE, str(int(sample_rate))), (META_STFT, stft)):
                proto.metadata_props.add(key=key, value=value)
            onnx.checker.check_model(proto)
            onnx.save(proto, str(tmp))
    finally:
        exporter_log.setLevel(level)
    return out_path
