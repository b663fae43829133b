"""STFT / iSTFT pair for the model, always computed in float32.

torch.stft has no bf16 kernel and half-precision overlap-add loses the reconstruction, so both
transforms leave autocast and up-cast their input, whatever precision the rest of the network runs in.
"""

from __future__ import annotations

import torch
from torch import nn


def padded_length(n_samples: int, n_fft: int, hop: int) -> int:
    """The length the models zero-pad their input to before the STFT: a multiple of the hop (so
    the iSTFT's window envelope never nears zero inside the signal) and past half a window (the
    centred STFT reflects ``n_fft // 2`` samples, which needs more than that)."""
    length = max(n_samples, n_fft // 2 + 1)
    return length + (-length) % hop


def _autocast_off(device_type: str):
    return torch.autocast(device_type=device_type, enabled=False)


class STFT(nn.Module):
    """Centred, reflect-padded, one-sided STFT with a periodic window of ``win_length`` samples.

    ``win_length`` defaults to ``n_fft``; a shorter window is centred in the FFT frame (torch's and
    ESPnet's convention).
    """

    def __init__(self, n_fft: int, hop: int, window: str = "hann",
                 win_length: int | None = None) -> None:
        super().__init__()
        window_fn = getattr(torch, f"{window}_window", None)
        if window_fn is None:
            raise ValueError(f"window={window!r}: expected a torch window name such as 'hann'")
        self.n_fft = n_fft
        self.hop = hop
        self.win_length = win_length or n_fft
        if not 1 <= self.win_length <= n_fft:
            raise ValueError(f"win_length={win_length}: expected 1..n_fft={n_fft}")
        # Non-persistent: the reference has no window in its state_dict, so neither do we.
        self.register_buffer("window", window_fn(self.win_length, periodic=True), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """[B, N] real -> [B, T, F] complex64, T = 1 + N // hop."""
        with _autocast_off(wave.device.type):
            return torch.stft(
                wave.float(), self.n_fft, hop_length=self.hop, win_length=self.win_length,
                window=self.window.float(), center=True, pad_mode="reflect", normalized=False,
                onesided=True, return_complex=True,
            ).transpose(1, 2)

    def inverse(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """[B, T, F] complex -> [B, length] float32."""
        with _autocast_off(spec.device.type):
            return torch.istft(
                spec.transpose(1, 2).to(torch.complex64), self.n_fft, hop_length=self.hop,
                win_length=self.win_length, window=self.window.float(), center=True,
                normalized=False, onesided=True, length=length,
            )
