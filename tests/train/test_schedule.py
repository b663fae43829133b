"""Learning-rate schedules against their closed forms, the LR floor, and the fast-decay warning."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tfgridnet.data.datasets import EpochSampler
from tfgridnet.metrics import sisnr_per_utterance
from tfgridnet.train.config import SchedulerConfig
from tfgridnet.train.config_files import config_from_dict
from tfgridnet.train.module import LRSchedule, lr_decay_before_last_epoch


def test_warmup_then_cosine_reaches_the_floor_at_the_last_step() -> None:
    sched = SchedulerConfig(name="warmup_cosine", warmup_epochs=1, min_lr=1e-5)
    schedule = LRSchedule(sched, base_lr=1e-3, steps_per_epoch=10, total_steps=100)
    assert schedule(0) == pytest.approx(0.1)
    assert schedule(9) == pytest.approx(1.0)
    floor = 1e-5 / 1e-3
    for step in (10, 30, 55, 80):
        progress = (step - 10) / 90
        assert schedule(step) == pytest.approx(floor + (1 - floor) * 0.5 * (1 + math.cos(
            math.pi * progress)))
    assert schedule(100) == pytest.approx(floor)
    assert schedule(10_000) == pytest.approx(floor)


def test_exponential_decays_by_gamma_per_epoch_and_stops_at_the_floor() -> None:
    sched = SchedulerConfig(name="exponential", gamma=0.5, min_lr=1e-4)
    schedule = LRSchedule(sched, base_lr=1e-3, steps_per_epoch=4, total_steps=400)
    assert schedule(4) == pytest.approx(0.5)
    assert schedule(6) == pytest.approx(0.5 ** 1.5)
    assert schedule(400) == pytest.approx(0.1)  # 0.5**100 is far below the 1e-4 floor


def test_cosine_restarts_jump_back_to_the_peak_at_each_cycle_start() -> None:
    sched = SchedulerConfig(name="cosine_restarts", restart_epochs=2, restart_mult=2, min_lr=0)
    schedule = LRSchedule(sched, base_lr=1e-3, steps_per_epoch=10, total_steps=1000)
    assert schedule(0) == pytest.approx(1.0)
    assert schedule(10) == pytest.approx(0.5)   # half of the 2-epoch cycle
    assert schedule(20) == pytest.approx(1.0)   # restart; next cycle lasts 4 epochs
    assert schedule(40) == pytest.approx(0.5)
    assert schedule(60) == pytest.approx(1.0)


def test_the_users_schedule_is_flagged_and_a_floored_one_is_not(make_config) -> None:
    # Their run: 5e-4 -> 6.1e-8 (8,200x). Exponential at 0.99/epoch over 1,000 epochs does that.
    users = config_from_dict(make_config(optim={"lr": 5e-4}, trainer={"max_epochs": 1000},
                                         scheduler={"name": "exponential", "gamma": 0.991,
                                                    "min_lr": 0.0}))
    ratio = lr_decay_before_last_epoch(users, steps_per_epoch=27)
    assert ratio == pytest.approx(1 / 0.991 ** 999, rel=1e-3) and ratio > 1000
    floored = users.model_copy(update={"scheduler": users.scheduler.model_copy(
        update={"min_lr": 5e-6})})
    assert lr_decay_before_last_epoch(floored, steps_per_epoch=27) == pytest.approx(100)
    plateau = config_from_dict(make_config(trainer={"max_epochs": 100}, optim={"lr": 1e-3},
                                           scheduler={"name": "plateau", "plateau_factor": 0.5,
                                                      "plateau_patience": 1, "min_lr": 0.0}))
    assert lr_decay_before_last_epoch(plateau, 10) == pytest.approx(2.0 ** 49)


def test_sampler_shards_cover_every_item_once_and_reshuffle_per_epoch() -> None:
    data = list(range(10))
    shards = [EpochSampler(data, num_replicas=2, rank=r, seed=3) for r in range(2)]
    for s in shards:
        s.set_epoch(0)
    epoch0 = [list(s) for s in shards]
    assert len(epoch0[0]) == len(epoch0[1]) == 5
    assert sorted(i for shard in epoch0 for i, _ in shard) == data
    assert all(epoch == 0 for shard in epoch0 for _, epoch in shard)
    shards[0].set_epoch(1)
    assert [i for i, _ in shards[0]] != [i for i, _ in epoch0[0]]
    shards[0].set_epoch(0)
    assert list(shards[0]) == epoch0[0]
    odd = [list(EpochSampler(list(range(5)), 2, r)) for r in range(2)]
    assert len(odd[0]) == len(odd[1]) == 3  # padded so DDP ranks step together


def test_sisnr_per_utterance_ignores_the_padding_of_shorter_items() -> None:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((2, 400))
    est = ref + 0.1 * rng.standard_normal((2, 400))
    lengths = torch.tensor([400, 250])
    padded_est, padded_ref = torch.tensor(est), torch.tensor(ref)
    padded_est[1, 250:] = 5.0  # garbage beyond the valid length
    got = sisnr_per_utterance(padded_est, padded_ref, lengths)

    def reference(e: np.ndarray, r: np.ndarray) -> float:
        e, r = e - e.mean(), r - r.mean()
        target = (e @ r) / (r @ r) * r
        return 10 * math.log10((target @ target) / ((e - target) @ (e - target)))

    assert got[0].item() == pytest.approx(reference(est[0], ref[0]), abs=1e-6)
    assert got[1].item() == pytest.approx(reference(est[1, :250], ref[1, :250]), abs=1e-6)
