"""Audio: file I/O, resampling, filters and levels; every function works on ``[N]`` or ``[C, N]``.

Names other than ``resample`` are imported from their modules on first use, so reading and
resampling (soundfile, soxr) never load scipy: the torch-free enhancer (``tfgridnet.onnx``)
needs only numpy, soxr and soundfile here.
"""

# `resample` is bound now, not lazily: importing the submodule of the same name would otherwise
# set the package attribute to the module.
from tfgridnet.audio.resample import resample
from tfgridnet.lazy import lazy_exports

_LAZY = {
    "AudioError": ".io", "MONO_POLICIES": ".io", "load_audio": ".io", "save_audio": ".io",
    "audio_info": ".io", "to_mono": ".io", "bandpass": ".filters",
    "peak_normalise_pair": ".levels", "loudness_normalise_pair": ".levels", "rms_dbfs": ".levels",
}
__all__ = [*_LAZY, "resample"]
__getattr__ = lazy_exports(__name__, _LAZY)
