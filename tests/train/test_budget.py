"""The time budget covers validation: training stops in time for the closing validation, and a
validation pass that would not fit is shortened (simulated time: every step costs one second)."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from tfgridnet.train.budget import MARGIN_S, TimeBudget


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class OneSecondSteps(pl.LightningModule):
    """Each training and validation step takes one simulated second."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.layer = torch.nn.Linear(2, 1)
        self.valid_steps: list[int] = []

    def training_step(self, batch, batch_idx):
        self.clock.now += 1.0
        return self.layer(batch).pow(2).mean()

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        self.clock.now += 1.0
        if not self.trainer.sanity_checking:
            self.valid_steps.append(batch_idx if dataloader_idx == 0 else (dataloader_idx,
                                                                           batch_idx))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _fit(budget: TimeBudget, model: OneSecondSteps, train_batches: int, valid_batches: int,
         max_epochs: int = 10, extra_valid_batches: int = 0) -> pl.Trainer:
    data = [torch.randn(2) for _ in range(max(train_batches, valid_batches))]
    valid = [DataLoader(data[:valid_batches], batch_size=1)]
    if extra_valid_batches:  # a second validation set (dataloader 1)
        valid.append(DataLoader(data[:extra_valid_batches], batch_size=1))
    trainer = pl.Trainer(max_epochs=max_epochs, limit_train_batches=train_batches,
                         num_sanity_val_steps=1, callbacks=[budget], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", devices=1)
    trainer.fit(model, DataLoader(data, batch_size=1), valid if extra_valid_batches else valid[0])
    return trainer


def test_a_long_validation_is_shortened_and_the_run_ends_within_its_budget() -> None:
    clock = Clock()
    model = OneSecondSteps(clock)
    budget = TimeBudget(0.5, clock=clock)  # 30 s; a full validation (20 s) would not fit
    trainer = _fit(budget, model, train_batches=40, valid_batches=20)
    # sanity batch 1 s -> full pass ~20 s, reserve min(20, 25 % of 30) + margin = 8.5 s:
    # training stops once 1 s + 8.5 s more would pass 30 s, i.e. after 20 batches (t = 21 s)
    assert trainer.global_step == 20 and budget.stopped
    assert budget.shortened == [{"epoch": 0, "batches": 8, "of": 20}]
    assert model.valid_steps == list(range(8))  # the first batches, in manifest order
    assert clock.now <= 30 - MARGIN_S
    # the next pass is full again unless it must be cut too
    assert trainer.fit_loop.epoch_loop.val_loop._max_batches == [20]


def test_validation_that_fits_is_not_touched_and_epochs_stop_before_the_budget() -> None:
    clock = Clock()
    model = OneSecondSteps(clock)
    budget = TimeBudget(1.0, clock=clock)  # 60 s; epochs of 10 + 4 s
    trainer = _fit(budget, model, train_batches=10, valid_batches=4)
    assert budget.stopped and budget.shortened == []
    assert len(model.valid_steps) % 4 == 0  # every pass complete
    assert clock.now <= 60 and trainer.current_epoch >= 3


def test_each_validation_set_keeps_its_share_when_a_pass_is_shortened() -> None:
    clock = Clock()
    model = OneSecondSteps(clock)
    budget = TimeBudget(0.5, clock=clock)  # 30 s; full validation 20 + 10 batches
    _fit(budget, model, train_batches=40, valid_batches=20, extra_valid_batches=10)
    assert budget.shortened and budget.shortened[0]["of"] == 30
    kept = budget.shortened[0]["batches"]
    first = [step for step in model.valid_steps if isinstance(step, int)]
    extra = [step for step in model.valid_steps if isinstance(step, tuple)]
    assert first == list(range(len(first))) and extra == [(1, i) for i in range(len(extra))]
    assert len(first) + len(extra) == kept == 8  # (30 - 21 - 1) s left at 1 s per batch
    assert (len(first), len(extra)) == (5, 3)  # 20:10 as far as whole batches go
    assert clock.now <= 30


def test_no_budget_never_stops_and_max_epochs_is_not_a_budget_stop() -> None:
    clock = Clock()
    for minutes in (None, 10.0):
        budget = TimeBudget(minutes, clock=clock)
        trainer = _fit(budget, OneSecondSteps(clock), train_batches=3, valid_batches=2,
                       max_epochs=2)
        assert trainer.current_epoch == 2 and not budget.stopped and budget.shortened == []
    assert TimeBudget(None).seconds_left() is None
    assert "none" in TimeBudget(None).describe(5)
    assert "2m00s for this run, validation included" in TimeBudget(2).describe(5)
