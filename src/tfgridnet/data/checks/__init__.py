"""`check-data`: find the pairs that would silently ruin a training run, before it starts.

Every pair is read and compared at an analysis rate of 16 kHz (or lower when both files are lower)
by the detectors of :data:`DETECTORS`, in order:
  * files, channels, format: missing/unreadable files; multichannel sides, one source or
    different signals (channels.py: envelope correlation); rates, lengths;
  * levels: silence, clipping, DC offset;
  * alignment: FFT cross-correlation over a bounded window -> lag (misaligned), peak (not_a_pair);
  * snr: SI-SNR(noisy, clean) (metrics.si_snr) -> identical pairs, very low SNR;
  * swap, spectrum: residual correlations and the transfer function noisy/clean (Welch
    cross-spectrum) -> swapped columns, one-sided filtering, phase distortion, scale mismatch.
  * reference: the clean side itself (reference.py): its own SNR, bandwidth, speech activity;
  * corpus: after every pair, input SI-SNR far from the corpus median (corpus.py).
A manifest of clean references alone (dynamic mixing) gets the file, level and reference checks,
a noise list the file and level checks. Results are cached by file identity (cache.py).
Thresholds and the measurements behind them are in docs/data-checks.md (:data:`THRESHOLDS`).
"""

from tfgridnet.data.checks.cache import ResultCache, default_cache_dir
from tfgridnet.data.checks.detectors import DETECTORS, KINDS, Detector, PairAudio
from tfgridnet.data.checks.report import MEASURE_FIELDS, ROLES, CheckReport, Measures, Problem
from tfgridnet.data.checks.run import check_arrays, check_data, check_pair, read_rows
from tfgridnet.data.checks.thresholds import THRESHOLDS

__all__ = ["Problem", "CheckReport", "Measures", "MEASURE_FIELDS", "ROLES", "check_data",
           "check_pair", "check_arrays", "read_rows", "ResultCache", "default_cache_dir",
           "THRESHOLDS", "KINDS", "DETECTORS", "Detector", "PairAudio"]
