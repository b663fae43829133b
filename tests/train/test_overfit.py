"""Acceptance: the tiny model overfits one batch by more than 10 dB SI-SNR in 120 steps.

(How long that takes is a speed figure: it belongs in bench/, not in a test.)"""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader

from tfgridnet.metrics import si_snr
from tfgridnet.train.config_files import config_from_dict
from tfgridnet.train.datamodule import EnhancementDataModule
from tfgridnet.train.module import EnhancementModule


@pytest.mark.slow
def test_tiny_model_overfits_one_batch_by_more_than_10_db(make_config) -> None:
    config = config_from_dict(make_config(
        model={"emb_dim": 16, "lstm_hidden_units": 16, "attn_n_head": 4},
        data={"batch_size": 2, "crop_seconds": 0.5},
        optim={"lr": 1e-2}, scheduler={"name": "none"}))
    torch.manual_seed(0)
    datamodule = EnhancementDataModule(config)
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    module = EnhancementModule(config.to_dict())
    with torch.no_grad():
        noisy_score = si_snr(batch["noisy"], batch["clean"]).mean().item()

    trainer = pl.Trainer(accelerator="cpu", max_steps=120, limit_val_batches=0, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, gradient_clip_val=5.0)
    trainer.fit(module, train_dataloaders=DataLoader([batch], batch_size=None))

    module.eval()
    with torch.no_grad():
        enhanced = module(batch["noisy"], batch["lengths"])
        score = si_snr(enhanced, batch["clean"]).mean().item()
    assert trainer.global_step == 120
    assert score - noisy_score > 10, (noisy_score, score)
