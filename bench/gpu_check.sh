#!/usr/bin/env bash
# Everything that needs a CUDA GPU, in one run of a few minutes (bench/README.md, "GPU"):
#   1. the cuda-marked tests, 2. `tfgridnet train` with the seed config in bf16-mixed on synthetic
#   data, 3. bench/gpu.py grads / steps / inference. Logs and metrics.csv go to OUT_DIR.
#
#   bash bench/gpu_check.sh OUT_DIR [WHEEL_DIR]
#   STAGES="tests steps" bash bench/gpu_check.sh ...   (a subset; default: all of them)
#
# WHEEL_DIR (optional): wheels of the missing Python packages (and sdist/ source packages) for a
# machine without a package index; they are installed into a private folder on PYTHONPATH
# (pesq only exists as source: its setup_requires names pytest-runner, a test helper that is not
# needed to build it, so it is dropped from the unpacked copy).
# Each stage has its own time limit and the script goes on after a failed stage; the last lines
# are a one-line-per-stage summary.
set -uo pipefail
OUT=${1:?usage: gpu_check.sh OUT_DIR [WHEEL_DIR]}
WHEELS=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
STAGES=${STAGES:-tests train grads steps profile inference}
SUMMARY=()
stage() {  # stage NAME LIMIT_S LOG COMMAND...
  local name=$1 limit=$2 log=$3; shift 3
  [[ " $STAGES " == *" ${name%%-*} "* ]] || return 0
  local start=$SECONDS
  timeout "$limit" "$@" >>"$OUT/$log" 2>&1
  local rc=$?
  SUMMARY+=("$name: rc=$rc in $((SECONDS - start)) s (log $log)")
  echo "== $name: rc=$rc, $((SECONDS - start)) s"; tail -n 25 "$OUT/$log"
}

{
  if [ -n "$WHEELS" ]; then
    site=/tmp/tfgridnet-site
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target "$site" "$WHEELS"/*.whl
    export PYTHONPATH="$PYTHONPATH:$site"
    for sdist in "$WHEELS"/sdist/*.tar.gz; do
      [ -e "$sdist" ] || continue
      src=/tmp/sdist/$(basename "$sdist" .tar.gz)
      mkdir -p /tmp/sdist && tar xzf "$sdist" -C /tmp/sdist
      sed -i "s/, *'pytest-runner'//" "$src/setup.py"
      $PY -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir \
        --target "$site" "$src"
    done
  fi
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv
  $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', \
torch.backends.cudnn.version(), torch.cuda.get_device_name())"
  $PY -m pip show soundfile soxr pydantic pesq pystoi librosa espnet torch_complex typeguard \
    2>/dev/null | grep -E '^(Name|Version)'
  $PY -c "import tfgridnet.evaluation.evaluate, pesq, pystoi, espnet2.enh.separator.tfgridnetv2_separator; \
print('imports ok')"
} >"$OUT/env.log" 2>&1
echo "== env"; cat "$OUT/env.log"

cd "$ROOT"
stage tests 90 pytest.log $PY -m pytest -q -p no:cacheprovider -m cuda -rs tests/*/test_cuda*.py

DATA=/tmp/gpu_check_data
RUN=/tmp/gpu_check_run
rm -rf "$DATA" "$RUN"
[[ " $STAGES " == *" train "* ]] && $PY bench/gpu.py corpus "$DATA" --train 512 --valid 16 >/dev/null
stage train 140 train.log $PY -m tfgridnet train src/tfgridnet/configs/seed.yaml --out "$RUN" \
  -o data.train_manifest="$DATA/train/manifest.csv" -o data.valid_manifest="$DATA/valid/manifest.csv" \
  -o trainer.max_epochs=15 -o trainer.max_minutes=1.7 -o trainer.progress_bar=none \
  -o trainer.log_every_n_steps=4
cp "$RUN/metrics.csv" "$OUT/metrics.csv" 2>/dev/null
stage train-report 30 train.log $PY bench/gpu.py train-report "$RUN"

stage grads 45 grads.log $PY bench/gpu.py grads
stage steps 240 steps.log $PY bench/gpu.py steps
stage profile 60 steps.log $PY bench/gpu.py profile
stage inference 75 inference.log $PY bench/gpu.py inference
cp bench/RESULTS.md "$OUT/RESULTS.md"
echo "== summary"; printf '%s\n' "${SUMMARY[@]}"
