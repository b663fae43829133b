"""Two "nodes" x one CPU device (gloo), launched as Lightning launches on a cluster: every rank
reads its own disjoint share of each dynamic-mixing epoch, and only global rank 0 writes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EPOCH_SIZE = 4  # 8 clean files in the corpus: two epochs make one pass over them

# Records the (index, epoch) key and clean file of every training item this process reads.
DRIVER = textwrap.dedent("""
    import json, os, sys
    from lightning.pytorch.utilities import rank_zero_only
    import tfgridnet.data.datasets as datasets
    import tfgridnet.train.run as run
    from tfgridnet.cli import main

    seen = []
    read = datasets.DynamicMixDataset.__getitem__

    def recording(self, key):
        item = read(self, key)
        seen.append([int(key[0]), int(key[1]), item["conditions"]["clean_id"]])
        return item

    datasets.DynamicMixDataset.__getitem__ = recording
    laid_out = []  # whether this process created the run folder and its log
    lay_out = run.lay_out_run_dir

    def recording_lay_out(*args, **kwargs):
        laid_out.append(True)
        return lay_out(*args, **kwargs)

    run.lay_out_run_dir = recording_lay_out
    code = main(["train", sys.argv[1], "--out", sys.argv[2]])
    with open(sys.argv[3], "w") as handle:
        json.dump({"seen": seen, "laid_out": bool(laid_out), "rank": rank_zero_only.rank}, handle)
    sys.exit(code)
""")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_nodes_read_disjoint_shares_and_only_global_rank_zero_writes(
        make_config, corpus, tmp_path: Path) -> None:
    raw = make_config(
        data={"train_manifest": None, "train_clean_manifest": str(corpus["clean"]),
              "train_noise_manifest": str(corpus["noise"]), "epoch_size": EPOCH_SIZE,
              "batch_size": 2},
        trainer={"max_epochs": 2, "accelerator": "cpu", "devices": 1, "num_nodes": 2,
                 "strategy": "ddp"})
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(raw))
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    run = tmp_path / "run"  # one run folder on the "shared filesystem"
    port = _free_port()
    procs = []
    for node in range(2):
        # What a cluster gives each node's process: the master's address and the node's rank.
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "NODE_RANK": str(node), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
        for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "GLOBAL_RANK"):
            env.pop(key, None)
        procs.append(subprocess.Popen(
            [sys.executable, str(driver), str(config), str(run), str(tmp_path / f"seen{node}.json")],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output
    records = [json.loads((tmp_path / f"seen{node}.json").read_text()) for node in range(2)]
    seen = [record["seen"] for record in records]
    clean_ids = set()
    for epoch in range(2):
        keys = [{index for index, e, _ in share if e == epoch} for share in seen]
        files = [[uttid for _, e, uttid in share if e == epoch] for share in seen]
        assert len(keys[0]) == len(keys[1]) == EPOCH_SIZE // 2
        assert not keys[0] & keys[1] and keys[0] | keys[1] == set(range(EPOCH_SIZE))
        assert not set(files[0]) & set(files[1])
        clean_ids |= set(files[0]) | set(files[1])
    assert len(clean_ids) == 2 * EPOCH_SIZE  # the two epochs took one pass over all 8 files
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["world_size"] == 2 and len(set(summary["weight_digests"])) == 1
    # Node 1's process has no RANK variable (Lightning sets only LOCAL_RANK=0 there): it must
    # still know it is not global rank 0, or it writes the run folder's files too.
    assert [(r["laid_out"], r["rank"]) for r in records] == [(True, 0), (False, 1)]
    assert "run dir:" in outputs[0]
