"""Data: manifests, pair-preserving datasets, the `check-data` checks and the demo corpus.

Submodules are imported on first use so `tfgridnet check-data` does not pay for torch datasets.
"""

from __future__ import annotations

from tfgridnet.lazy import lazy_exports

_LAZY = {
    "Pair": ".manifest", "Entry": ".manifest", "read_entries": ".manifest",
    "ManifestError": ".manifest", "read_manifest": ".manifest",
    "read_noise_manifest": ".manifest", "write_manifest": ".manifest", "make_manifest": ".pairing",
    "PairedDataset": ".datasets", "DynamicMixDataset": ".datasets", "EpochSampler": ".datasets",
    "collate_pairs": ".datasets", "Augmentation": ".augment", "CheckReport": ".checks",
    "Problem": ".checks", "check_data": ".checks", "make_demo_data": ".demo",
}
__all__ = list(_LAZY)
__getattr__ = lazy_exports(__name__, _LAZY)
