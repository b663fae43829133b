"""README "Using it on your data", verbatim, on a CPU: a generated corpus of 300 short pairs goes
through every command of the block; each exits 0, the resume continues training, and
`tfgridnet evaluate ... > log.txt` leaves progress lines in the file.

The budgets are shrunk the documented way: `-o trainer.max_minutes=0.05` (3 s) is appended to the
first `train` command, and the resume keeps it (it reads the run's own config.yaml). Commands run
in this process through the CLI's `main`, except `evaluate`, which runs in a shell with its output
redirected, as a user would.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tfgridnet.cli import main

REPO = Path(__file__).resolve().parents[1]
SECTION = (REPO / "README.md").read_text(encoding="utf-8").split("## Using it on your data")[1]
LINES = [line for line in re.search(r"```bash\n(.*?)```", SECTION, re.DOTALL).group(1).splitlines()
         if line.strip()]
ACTIVATE = ". .venv/bin/activate"
SHRINK = {"tfgridnet train cpu ": ["-o", "trainer.max_minutes=0.05"]}
RATE = 16000


def _write_corpus(root: Path, seconds: float = 0.6) -> None:
    """train/valid/test folders of noisy/clean pairs (200/50/50): harmonic tones with a syllable
    envelope, white noise at 0-10 dB; plus recordings/ and noisy.wav to enhance."""
    rng = np.random.default_rng(0)
    t = np.arange(int(RATE * seconds)) / RATE
    for split, count in (("train", 200), ("valid", 50), ("test", 50)):
        for side in ("noisy", "clean"):
            (root / split / side).mkdir(parents=True)
        for i in range(count):
            f0 = rng.uniform(100, 250)
            tone = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k
                       for k in range(1, 8))
            clean = 0.1 * tone * 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(3, 6) * t))
            noise = rng.standard_normal(t.size)
            noise *= np.sqrt(np.sum(clean ** 2) / np.sum(noise ** 2) / 10 ** (rng.uniform(0, 10)
                                                                              / 10))
            sf.write(root / split / "clean" / f"{split}{i:03d}.wav", clean, RATE, subtype="PCM_16")
            sf.write(root / split / "noisy" / f"{split}{i:03d}.wav", clean + noise, RATE,
                     subtype="PCM_16")
    (root / "recordings").mkdir()
    for i in range(2):
        audio, _ = sf.read(root / "test" / "noisy" / f"test{i:03d}.wav")
        sf.write(root / "recordings" / f"rec{i}.flac", audio, RATE)
        sf.write(root / "recordings" / f"rec{i}.wav", audio, RATE)
    sf.write(root / "noisy.wav", audio, RATE)


def _argv(line: str) -> list[str]:
    """The line as a shell would pass it: comments dropped, globs expanded."""
    argv = shlex.split(line, comments=True)
    for prefix, extra in SHRINK.items():
        if line.startswith(prefix):
            argv += extra
    return [match for arg in argv for match in (sorted(glob.glob(arg)) if "*" in arg and
                                                 glob.glob(arg) else [arg])]


def _in_a_shell(line: str, log: Path, cwd: Path) -> int:
    """Run ``line > log`` in bash, `tfgridnet` being this checkout's command line."""
    bin_dir = cwd / ".bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "tfgridnet"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tfgridnet "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"),
                                                        os.environ.get("PYTHONPATH")]))}
    env.pop("TFGRIDNET_PROGRESS_SECONDS", None)  # the default interval, as a user has it
    return subprocess.run(["bash", "-c", f"{line} > {shlex.quote(str(log))}"], cwd=cwd, env=env,
                          timeout=600, check=False).returncode


def test_the_block_is_the_cpu_path() -> None:
    assert LINES[0].startswith(ACTIVATE)
    assert all(line.startswith("tfgridnet ") for line in LINES[1:])
    trains = [line for line in LINES if line.startswith("tfgridnet train ")]
    assert trains[0].startswith("tfgridnet train cpu ") and "--resume" in trains[1]
    assert "seed" not in "\n".join(LINES)  # the GPU recipe is not on the laptop path


@pytest.mark.slow
def test_readme_your_data_commands_run_verbatim_on_a_cpu(tmp_path: Path, monkeypatch,
                                                          capsys) -> None:
    _write_corpus(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TFGRIDNET_PROGRESS_SECONDS", raising=False)
    outputs: dict[str, str] = {}
    for line in LINES[1:]:
        if line.startswith("tfgridnet evaluate "):
            assert _in_a_shell(line.split("#")[0].strip(), tmp_path / "log.txt", tmp_path) == 0
            outputs[line] = (tmp_path / "log.txt").read_text()
        else:
            argv = _argv(line)
            assert main(argv[1:]) == 0, f"{line}\n{capsys.readouterr()}"
            outputs[line] = capsys.readouterr().out
        if line.startswith("tfgridnet train cpu "):
            first = json.loads((tmp_path / "runs/mine/train_summary.json").read_text())
            assert first["stop_reason"] == "time budget" and first["global_step"] >= 1
        if "--resume" in line:
            resumed = json.loads((tmp_path / "runs/mine/train_summary.json").read_text())
            assert resumed["global_step"] > first["global_step"], "the resume trained nothing"
            assert "resuming runs/mine from runs/mine/checkpoints/last.ckpt at epoch 1" in \
                outputs[line]
            assert "time budget: 3s for this run, validation included" in outputs[line]

    check = next(out for line, out in outputs.items() if line.startswith("tfgridnet check-data"))
    assert "check-data: 200/200 pairs (100 %) in " in check
    log = next(out for line, out in outputs.items() if line.startswith("tfgridnet evaluate"))
    assert re.search(r"^evaluate: 50/50 utterances \(100 %\) in \S+, ", log, re.MULTILINE), log
    assert "\r" not in log
    assert (tmp_path / "runs/mine/eval/summary.json").is_file()
    assert (tmp_path / "runs/mine/report.html").is_file()
    assert (tmp_path / "my_model/model.onnx").is_file()
    # one WAV per input; the onnx run into the same folder replaced the torch run's files
    assert sorted(p.name for p in (tmp_path / "enhanced").glob("*.wav")) == ["rec0.wav",
                                                                            "rec1.wav"]
    assert (tmp_path / "raw" / "noisy.wav").is_file()
