"""Old import path of ``data_check.json``'s schema, which lives in
``tfgridnet.contracts.data_check``."""

from tfgridnet.contracts.data_check import (
    DATA_CHECK_FILE,
    AudioPipeline,
    DataCheckFile,
    LeakageCheck,
    ManifestCheck,
)

__all__ = ["DATA_CHECK_FILE", "AudioPipeline", "DataCheckFile", "ManifestCheck", "LeakageCheck"]
