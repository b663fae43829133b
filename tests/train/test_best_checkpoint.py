"""BestCheckpoint: ModelCheckpoint's best epoch is the one exported to model/, even when a later
epoch is worse (the tiny runs of test_training.py improve every epoch, so they cannot tell)."""

from __future__ import annotations

import json
from pathlib import Path

import lightning.pytorch as pl
import torch
from tests.tiny import tiny_args
from torch.utils.data import DataLoader

from tfgridnet.model.io import load_model
from tfgridnet.model.tfgridnetv2 import TFGridNetV2
from tfgridnet.train.callbacks import MONITOR, BestCheckpoint

SCORES = [1.0, 3.0, 2.0]  # valid_sisnr per epoch: the best is epoch 1, not the last


class ScriptedScores(pl.LightningModule):
    """Trains a tiny TFGridNetV2 for real but reports a scripted validation score."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.model = TFGridNetV2(**tiny_args())

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        return (self.model(batch) - batch).pow(2).mean()

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self.log(MONITOR, SCORES[self.current_epoch])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.5)


def test_the_best_epoch_not_the_last_is_exported(tmp_path: Path) -> None:
    checkpoint = BestCheckpoint(tmp_path / "checkpoints", tmp_path / "model", 8000,
                                save_top_k=1, every_n_epochs=1)
    trainer = pl.Trainer(accelerator="cpu", max_epochs=len(SCORES), callbacks=[checkpoint],
                         logger=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0)
    data = DataLoader([torch.randn(1, 320, generator=torch.Generator().manual_seed(1))],
                      batch_size=None)
    trainer.fit(ScriptedScores(), train_dataloaders=data, val_dataloaders=data)

    assert checkpoint.best_epoch == 1 and float(checkpoint.best_model_score) == 3.0
    exported = json.loads((tmp_path / "model" / "config.json").read_text())
    assert exported["epoch"] == 1 and exported["valid_sisnr"] == 3.0
    assert exported["checkpoint"] == Path(checkpoint.best_model_path).name
    best = torch.load(checkpoint.best_model_path, weights_only=True)["state_dict"]
    model = load_model(tmp_path / "model")
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, best[f"model.{name}"]), name
    # last.ckpt is the last epoch even though that epoch did not make the top k (Lightning 2.6
    # alone rewrites it only in epochs that do, and a resume would repeat the others)
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 2 and last["global_step"] == 3
    assert any(not torch.equal(best[k], last["state_dict"][k]) for k in best)
