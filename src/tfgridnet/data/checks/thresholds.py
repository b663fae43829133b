"""The thresholds every detector decides with, in one place (docs/data-checks.md gives the
measurements behind each; the JSON report carries them in ``stats.thresholds``)."""

from __future__ import annotations

__all__ = ["THRESHOLDS"]

# Chosen from measurements on eSpeak speech + six noise kinds at -10..20 dB (docs/data-checks.md).
THRESHOLDS = {
    "analysis_rate": 16000,        # Hz; lags are measured on this grid
    "window_s": 8.0,               # cross-correlation window (from the start of both files)
    "length_warning_s": 0.002,     # |len(noisy) - len(clean)| above this: warning (loader trims)
    "length_error_s": 0.1,         # ... above this (or 5 %): error
    "length_error_ratio": 0.05,
    "silence_dbfs": -60.0,         # RMS below this: silent
    "clip_level": 0.999,           # |x| at or above this counts as clipped
    "clip_fraction": 1e-3,         # more than this fraction of clipped samples: clipping
    "dc_abs": 0.01,                # |mean| above this AND above dc_rel * RMS: dc_offset
    "dc_rel": 0.1,
    "not_a_pair_peak": 0.08,       # normalised xcorr peak below this: not a pair
    "lag_confident_peak": 0.15,    # a nonzero lag is trusted above this peak (else: not a pair)
    "identical_sisnr_db": 50.0,    # SI-SNR above this: noisy is (a copy of) clean
    "very_low_sisnr_db": -15.0,    # aligned but SI-SNR below this: warning
    "coherence_min": 0.5,          # bins used for the transfer function
    "filter_gain_spread_db": 6.0,  # max-min band gain of noisy/clean above this: filtered
    "deficit_db": -6.0,            # a strong clean band this much louder than noisy: filtered
    "deficit_band_range_db": 40.0,  # "strong" clean bands: within this of the loudest band
    "filter_phase_rad": 0.25,      # coherent-weighted mean |phase| above this: phase distortion
    "swap_residual_corr": 0.2,     # |corr(n-c, c)| above this while |corr(n-c, n)| is below ...
    "swap_residual_corr_low": 0.05,  # ... this, and no band of noisy is louder than the clean's
    "swap_band_excess_db": 0.5,    # ... by more than this: the noisy/clean columns are swapped
    "scale_gain_db": 1.0,          # flat noisy/clean gain further than this from 0 dB: scale
    # Multichannel files (data/checks/channels.py; measured with bench/channels.py):
    "channel_frame_s": 0.128,      # frames of the channels' band-energy envelopes
    "channel_same_source_correlation": 0.65,  # envelope correlation below: different signals
    # Reference audit (reference.py; measured by bench/reference_audit.py, docs/data-checks.md)
    "audit_max_s": 60.0,           # the audit measures this much of each reference
    "ref_snr_error_db": 10.0,      # reference's own SNR (WADA) below this: error (configurable)
    "ref_snr_warning_db": 15.0,    # ... below this: warning
    "ref_floor_confirm_db": 20.0,  # ... either only when its noise-floor SNR is below this too
    "bandwidth_ratio": 0.6,        # effective bandwidth below this share of Nyquist: band-limited
    "bandwidth_vs_noisy_ratio": 0.75,  # ... or below this share of the noisy side's bandwidth
    "speech_share_min": 0.5,       # share of speech frames below this: little speech
    "outlier_min_pairs": 20,       # corpus outliers only in manifests of at least this many pairs
    "outlier_mad": 3.0,            # input SI-SNR further than this many (scaled) MADs ...
    "outlier_min_db": 10.0,        # ... and this many dB from the corpus median: outlier
}
