"""loss.spectral_weight adds the compressed spectral term to -SI-SNR in the module's one loss."""

from __future__ import annotations

import pytest
import torch

from tfgridnet.losses import CompressedSpectralLoss
from tfgridnet.metrics import sisnr_per_utterance
from tfgridnet.train.module import EnhancementModule


@pytest.mark.parametrize("weight", [0.0, 25.0])
def test_training_loss_is_neg_sisnr_plus_weighted_spectral_term(make_config, weight):
    module = EnhancementModule(make_config(loss={"spectral_weight": weight}))
    torch.manual_seed(0)
    clean = 0.1 * torch.randn(2, 2000)
    batch = {"noisy": clean + 0.05 * torch.randn(2, 2000), "clean": clean}
    loss, sisnr = module._scores(batch)
    with torch.no_grad():
        est = module(batch["noisy"])
    assert torch.allclose(sisnr, sisnr_per_utterance(est, clean), atol=1e-4)
    expected = -sisnr + weight * CompressedSpectralLoss().per_utterance(est, clean)
    assert torch.allclose(loss, expected, atol=1e-4)
    assert (module.spectral_loss is None) == (weight == 0.0)


def test_negative_spectral_weight_is_refused(make_config):
    from tfgridnet.train.config_files import config_from_dict

    with pytest.raises(Exception, match="spectral_weight"):
        config_from_dict(make_config(loss={"spectral_weight": -1.0}))
