"""Every file, folder and column name of the file contract (docs/design.md, section 4), once.

Writers and readers import these names (or the typed objects of this package built on them);
nothing else in the package types them. Imports nothing, so any stage may use it, the torch-free
ones included.
"""

from __future__ import annotations

# -- manifests (data.manifest) ---------------------------------------------------------------------
UTTID = "uttid"  # the utterance id: manifests, evaluation_results.csv, check-data JSON, batches
NOISY = "noisy"
CLEAN = "clean"
NOISE = "noise"
ENHANCED = "enhanced"
# Condition columns this package writes itself (demo corpus, dynamic mixing).
NOISE_KIND_COLUMN = "noise_kind"
SNR_COLUMN = "snr_db"

# -- the run folder (train) -------------------------------------------------------------------------
RUN_CONFIG_NAME = "config.yaml"  # the resolved config; `train --resume` continues with it
ENVIRONMENT_FILE = "environment.json"
METRICS_FILE = "metrics.csv"
TRAIN_SUMMARY_FILE = "train_summary.json"
DATA_CHECK_FILE = "data_check.json"
INIT_FILE = "init.json"  # a fine-tune's source and what of it trains
CHECKPOINTS_DIR = "checkpoints"
MODEL_DIR = "model"  # the export of the best epoch
LOGS_DIR = "logs"
PLOTS_DIR = "plots"
TRAIN_LOG = "train.log"
LAST_CHECKPOINT = "last.ckpt"
CHECKPOINT_SUFFIX = ".ckpt"
# The score that ranks epochs (checkpoints, export, early stopping): metrics.csv's column of it.
MONITOR = "valid_sisnr"
# Lightning's ModelCheckpoint file name of each kept epoch: "epoch007-valid_sisnr=12.345.ckpt".
CHECKPOINT_FILENAME = f"epoch{{epoch:03d}}-{MONITOR}={{{MONITOR}:.3f}}"

# -- what `report` writes into the run folder ----------------------------------------------------------
ANALYSIS_FILE = "EXPERIMENT_ANALYSIS.md"
REPORT_PAGE = "report.html"
FINDINGS_FILE = "findings.json"

# -- an exported model folder (model.io) -------------------------------------------------------------
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
# ESPnet's own name for the config beside an experiment's .pth (its contract, not ours: the same
# text as RUN_CONFIG_NAME by coincidence, so kept apart).
ESPNET_CONFIG_NAME = "config.yaml"

# -- the evaluation folder (evaluation) -------------------------------------------------------------
RESULTS_FILE = "evaluation_results.csv"
SUMMARY_FILE = "summary.json"
PAGE_FILE = "index.html"
HIGHLIGHTS_FILE = "highlights.txt"
VISUALIZATIONS_DIR = "visualizations"
VISUALIZATION_INDEX = "VISUALIZATION_INDEX.md"
RECOMMENDED_SAMPLES = "RECOMMENDED_SAMPLES.md"
# evaluation_results.csv's columns besides uttid, the conditions and the metric registry's.
DURATION_COLUMN = "duration_s"
ENHANCED_PEAK_COLUMN = "enhanced_peak"
STATUS_COLUMN = "status"  # STATUS_OK or STATUS_FAILED
ERROR_COLUMN = "error"
NOTES_COLUMN = "notes"
STATUS_OK = "ok"
STATUS_FAILED = "failed"
AUDIO_KINDS = (NOISY, ENHANCED, CLEAN)  # the WAV sub-folders, one file per utterance each
# Where `report` looks for a run's evaluation: RUN_DIR/eval, or eval/ beside the run (`demo --out`).
EVAL_DIR_NAME = "eval"
