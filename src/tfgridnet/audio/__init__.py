"""Audio: file I/O, resampling, filters and levels; every function works on ``[N]`` or ``[C, N]``."""

from tfgridnet.audio.filters import bandpass
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

__all__ = [
    "AudioError", "MONO_POLICIES", "load_audio", "save_audio", "audio_info", "resample",
    "bandpass", "to_mono", "peak_normalise_pair", "loudness_normalise_pair", "rms_dbfs",
]
