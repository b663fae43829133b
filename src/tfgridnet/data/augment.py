"""Training-time augmentations that keep a pair a pair.

Speed and gain perturbation act identically on both sides, so the pair stays aligned and its
SI-SNR is unchanged. SNR re-mixing treats ``noisy - clean`` as the noise and rescales it. Masking
(SpecAugment-style, on the input only) deliberately damages the noisy side: the target is untouched.
All randomness comes from the ``rng`` the dataset derives from (seed, epoch, index).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tfgridnet.audio.resample import resample

__all__ = ["Augmentation"]


def _check_range(name: str, value: tuple[float, float] | None) -> None:
    if value is not None and (len(value) != 2 or value[0] > value[1]):
        raise ValueError(f"Augmentation.{name}: expected (low, high) with low <= high, got {value}")


@dataclass(frozen=True)
class Augmentation:
    """A recipe of pair-safe augmentations; ``None``/0 switches one off.

    gain_db: one random gain (dB) applied to both sides.
    speed: candidate speed factors (e.g. ``(0.9, 1.0, 1.1)``), applied to both sides by resampling.
    remix_snr_db: new SNR range for the pair's own noise (``noisy - clean``), with ``remix_prob``.
    time_masks / freq_masks: SpecAugment-style zeroed regions of the noisy input's STFT.
    """

    gain_db: tuple[float, float] | None = None
    speed: tuple[float, ...] | None = None
    remix_snr_db: tuple[float, float] | None = None
    remix_prob: float = 0.5
    time_masks: int = 0
    time_mask_seconds: float = 0.05
    freq_masks: int = 0
    freq_mask_bins: int = 8
    n_fft: int = 512

    def __post_init__(self) -> None:
        _check_range("gain_db", self.gain_db)
        _check_range("remix_snr_db", self.remix_snr_db)
        if self.speed is not None and (not self.speed or min(self.speed) <= 0):
            raise ValueError(f"Augmentation.speed: expected positive factors, got {self.speed}")
        if not 0.0 <= self.remix_prob <= 1.0:
            raise ValueError(f"Augmentation.remix_prob must be in [0, 1], got {self.remix_prob}")

    def __call__(self, noisy: np.ndarray, clean: np.ndarray, sample_rate: int,
                 rng: np.random.Generator, record: dict | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Return augmented (noisy, clean); both keep equal length.

        ``record`` (optional) receives what was applied, e.g. ``{"speed": 1.1, "gain_db": -2.0}``.
        """
        record = {} if record is None else record
        if self.speed:
            factor = float(rng.choice(np.asarray(self.speed, dtype=np.float64)))
            if factor != 1.0:
                record["speed"] = factor
                # Playing faster = fewer samples at the same rate; both sides get the same resampler.
                virtual_sr = int(round(sample_rate / factor))
                noisy = resample(noisy, sample_rate, virtual_sr)
                clean = resample(clean, sample_rate, virtual_sr)
        if self.remix_snr_db and rng.random() < self.remix_prob:
            noisy = self._remix(noisy, clean, rng, record)
        if self.gain_db:
            gain_db = float(rng.uniform(*self.gain_db))
            gain = np.float32(10.0 ** (gain_db / 20.0))
            noisy, clean = noisy * gain, clean * gain
            record["gain_db"] = gain_db
        if self.time_masks or self.freq_masks:
            noisy = self._mask(noisy, sample_rate, rng)
            record.update(time_masks=self.time_masks, freq_masks=self.freq_masks)
        return noisy.astype(np.float32, copy=False), clean.astype(np.float32, copy=False)

    def _remix(self, noisy: np.ndarray, clean: np.ndarray, rng: np.random.Generator,
               record: dict) -> np.ndarray:
        noise = noisy.astype(np.float64) - clean
        clean64 = clean.astype(np.float64)
        clean_energy = float(np.sum((clean64 - clean64.mean()) ** 2))
        noise_energy = float(np.sum((noise - noise.mean()) ** 2))
        if clean_energy <= 0 or noise_energy <= 0:
            return noisy
        target = rng.uniform(*self.remix_snr_db)
        record["remix_snr_db"] = float(target)
        scale = np.sqrt(clean_energy / noise_energy / 10.0 ** (target / 10.0))
        return (clean64 + scale * noise).astype(np.float32)

    def _mask(self, noisy: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        n_fft = self.n_fft
        if noisy.shape[-1] < n_fft:
            return noisy
        hop = n_fft // 4
        window = torch.hann_window(n_fft, dtype=torch.float64)
        signal = torch.as_tensor(noisy, dtype=torch.float64)
        spec = torch.stft(signal, n_fft, hop, window=window, return_complex=True)
        n_bins, n_frames = spec.shape[-2], spec.shape[-1]
        max_frames = max(1, int(self.time_mask_seconds * sample_rate / hop))
        for _ in range(self.time_masks):
            width = int(rng.integers(1, max_frames + 1))
            start = int(rng.integers(0, max(1, n_frames - width + 1)))
            spec[..., start:start + width] = 0
        for _ in range(self.freq_masks):
            width = int(rng.integers(1, self.freq_mask_bins + 1))
            start = int(rng.integers(0, max(1, n_bins - width + 1)))
            spec[..., start:start + width, :] = 0
        out = torch.istft(spec, n_fft, hop, window=window, length=signal.shape[-1])
        return out.numpy().astype(np.float32)
