"""The speed/memory paths of the model: per-path checkpointing and the channel-last block."""

from __future__ import annotations

import pytest
import torch

from tfgridnet.model.tfgridnetv2 import GridNetV2Block, TFGridNetV2

CONF = dict(n_srcs=1, n_fft=64, stride=32, n_layers=2, lstm_hidden_units=16, attn_n_head=2,
            emb_dim=16)


def saved_activation_bytes(model: TFGridNetV2, noisy: torch.Tensor) -> int:
    """Bytes autograd keeps for backward after a training forward (each storage counted once)."""
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(noisy)
    return sum(storages.values())


def test_path_checkpointing_keeps_a_small_fraction_of_the_activations() -> None:
    torch.manual_seed(0)
    plain = TFGridNetV2(**CONF, emb_ks=1, emb_hs=1)
    ckpt = TFGridNetV2(**CONF, emb_ks=1, emb_hs=1, gradient_checkpointing=True)
    noisy = torch.randn(2, 32 * 60)
    kept = saved_activation_bytes(ckpt, noisy) / saved_activation_bytes(plain, noisy)
    # Only the three sub-path inputs per block (plus conv/STFT ends) survive the forward.
    assert kept < 0.1


@pytest.mark.parametrize(("emb_ks", "emb_hs"), [(1, 1), (4, 4), (4, 2)])
def test_path_checkpointing_gives_the_same_gradients(emb_ks: int, emb_hs: int) -> None:
    torch.manual_seed(0)
    plain = TFGridNetV2(**CONF, emb_ks=emb_ks, emb_hs=emb_hs)
    ckpt = TFGridNetV2(**plain.config, gradient_checkpointing=True)
    ckpt.load_state_dict(plain.state_dict())
    noisy, clean = torch.randn(2, 1000), torch.randn(2, 1000)
    grads = []
    for model in (plain, ckpt):
        model.train()
        model.zero_grad()
        ((model(noisy) - clean) ** 2).mean().backward()
        grads.append({k: p.grad.clone() for k, p in model.named_parameters()})
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-5, atol=1e-7, msg=name)


@pytest.mark.parametrize(("emb_ks", "emb_hs"), [(1, 1), (4, 4), (4, 2)])
def test_block_reference_interface_equals_the_channel_last_path(emb_ks: int, emb_hs: int) -> None:
    torch.manual_seed(0)
    block = GridNetV2Block(8, emb_ks, emb_hs, n_freqs=17, hidden_channels=8, n_head=2)
    x = torch.randn(2, 8, 11, 17)  # [B, C, T, F], sizes that need padding for emb_ks=4
    with torch.no_grad():
        expected = block.forward_tbfc(x.permute(2, 0, 3, 1).contiguous()).permute(1, 3, 0, 2)
        out = block(x)
    assert out.shape == x.shape and out.is_contiguous()
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_lstm_weights_load_from_a_batch_first_reference_unchanged() -> None:
    # Our LSTMs run sequence-first; batch_first is not part of the state_dict, so a reference
    # (batch_first=True) LSTM's weights give the same function on the transposed input.
    torch.manual_seed(0)
    block = GridNetV2Block(8, 1, 1, n_freqs=17, hidden_channels=8, n_head=2)
    reference = torch.nn.LSTM(8, 8, 1, batch_first=True, bidirectional=True)
    reference.load_state_dict(block.intra_rnn.state_dict(), strict=True)
    x = torch.randn(3, 5, 8)
    with torch.no_grad():
        torch.testing.assert_close(block.intra_rnn(x.transpose(0, 1))[0].transpose(0, 1),
                                   reference(x)[0])
