"""Leakage between splits: the same audio in train and valid (or test) is found by content.

Every file of every split's manifests (noisy, clean and noise sides) gets a digest of its decoded
samples (exact copies under another name or container) and a landmark fingerprint that survives
gain, resampling, re-encoding, padding and cropping (:mod:`.fingerprint`). The smaller splits are
indexed, the largest streams through the index (:mod:`.index`), and matches are grouped per pair
of manifest rows and named: the same pair, the same clean speech (under different noise: the
common case), clean speech inside a noisy file, the same noise (:mod:`.report`). Thresholds and
the measurements behind them: docs/data-checks.md, "Leakage between splits".
"""

from tfgridnet.data.leakage.check import (
    MATCH,
    MatchThresholds,
    check_leakage,
    is_paired_manifest,
    read_split,
)
from tfgridnet.data.leakage.fingerprint import FINGERPRINT, Fingerprint, fingerprint
from tfgridnet.data.leakage.report import LEAK_KINDS, FileMatch, Leak, LeakageReport

__all__ = ["check_leakage", "read_split", "is_paired_manifest", "MatchThresholds", "MATCH", "fingerprint", "Fingerprint",
           "FINGERPRINT", "LEAK_KINDS", "FileMatch", "Leak", "LeakageReport"]
