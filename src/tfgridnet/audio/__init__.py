"""Audio: file I/O, resampling, filters and levels; every function works on ``[N]`` or ``[C, N]``.

``bandpass`` is imported on first use, so reading and resampling (soundfile, soxr) never load
scipy: the torch-free enhancer (``tfgridnet.onnx``) needs only numpy, soxr and soundfile here.
"""

from tfgridnet.audio.io import (
    MONO_POLICIES,
    AudioError,
    audio_info,
    load_audio,
    save_audio,
    to_mono,
)
from tfgridnet.audio.levels import loudness_normalise_pair, peak_normalise_pair, rms_dbfs
from tfgridnet.audio.resample import resample
from tfgridnet.lazy import lazy_exports

__all__ = [
    "AudioError", "MONO_POLICIES", "load_audio", "save_audio", "audio_info", "resample",
    "bandpass", "to_mono", "peak_normalise_pair", "loudness_normalise_pair", "rms_dbfs",
]

__getattr__ = lazy_exports(__name__, {"bandpass": ".filters"})
