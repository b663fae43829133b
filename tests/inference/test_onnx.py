"""ONNX export of the whole model: parity with PyTorch in onnxruntime, the torch-free runner, the
onnx backend of the Enhancer and the deployment snippet of docs/deployment.md."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tfgridnet.cli import main
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.inference.onnx_backend import INPUT_NAME, ONNX_NAME, OUTPUT_NAME, OnnxModel
from tfgridnet.model.io import load_model, save_exported
from tfgridnet.model.tfgridnetv2 import TFGridNetV2

pytestmark = pytest.mark.slow  # one export of a tiny model (tens of seconds), shared by the module

RATE = 8000
TINY = dict(n_srcs=1, n_fft=64, stride=32, n_layers=1, lstm_hidden_units=8, attn_n_head=2,
            emb_dim=8, emb_ks=1, emb_hs=1)
DOC = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """`tfgridnet export SRC --format onnx --out DIR` on a tiny random model; returns DIR."""
    torch.manual_seed(0)
    source = save_exported(TFGridNetV2(**TINY), RATE, tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("export")
    assert main(["export", str(source), "--format", "onnx", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("n_samples", [1001, 2017, 4831])  # none a multiple of the hop (32)
def test_onnxruntime_equals_pytorch(exported, batch, n_samples):
    model = load_model(exported)
    runner = OnnxModel(exported)
    rng = np.random.default_rng(n_samples + batch)
    noisy = (rng.standard_normal((batch, n_samples)) * [[0.1], [2.0]][:batch]).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(noisy)).numpy()
    got = runner(noisy)
    assert got.shape == want.shape == (batch, n_samples) and got.dtype == np.float32
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


def test_onnx_file_declares_the_contract(exported):
    runner = OnnxModel(exported / ONNX_NAME)
    (inp,), (out,) = runner.session.get_inputs(), runner.session.get_outputs()
    assert (inp.name, out.name) == (INPUT_NAME, OUTPUT_NAME)
    assert inp.type == "tensor(float)" and len(inp.shape) == 2
    assert not any(isinstance(d, int) for d in inp.shape + out.shape)  # both axes dynamic
    assert runner.sample_rate == RATE
    assert (exported / "model.safetensors").is_file()  # written beside the safetensors export


def test_runner_module_never_imports_torch(exported):
    code = ("import sys, numpy as np\n"
            "from tfgridnet.inference.onnx_backend import OnnxModel\n"
            f"out = OnnxModel({str(exported)!r})(np.ones((1, 999), np.float32) * 0.1)\n"
            "assert out.shape == (1, 999)\n"
            "print('torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_onnx_backend_file_equals_torch_backend(exported, tmp_path):
    noisy = 0.1 * np.random.default_rng(1).standard_normal((2, int(1.3 * 11025)))
    sf.write(tmp_path / "in.wav", noisy.T, 11025, subtype="FLOAT")
    kwargs = dict(chunk_seconds=0.25, overlap_seconds=0.05, precision="fp32")
    outputs = {}
    for backend in ("torch", "onnx"):
        enhancer = Enhancer.from_pretrained(exported, backend=backend, **kwargs)
        assert enhancer.backend == backend and enhancer.sample_rate == RATE
        path = enhancer.enhance_file(tmp_path / "in.wav", tmp_path / f"{backend}.wav")
        outputs[backend] = sf.read(path, dtype="float64")[0]
    assert outputs["onnx"].shape == outputs["torch"].shape == noisy.T.shape
    peak = np.abs(outputs["torch"]).max()
    assert np.abs(outputs["onnx"] - outputs["torch"]).max() <= 1e-4 * peak


def test_onnx_backend_with_two_workers_equals_one_on_one_thread_each(exported):
    noisy = (0.1 * np.random.default_rng(2).standard_normal((1, int(1.3 * RATE)))
             ).astype(np.float32)
    runner = OnnxModel(exported)
    kwargs = dict(backend="onnx", chunk_seconds=0.25, overlap_seconds=0.05)
    one, two = Enhancer(runner, **kwargs, workers=1), Enhancer(runner, **kwargs, workers=2)
    assert two.model.threads == 1 and two.model is not runner  # a session of its own
    got, want = two.enhance(noisy, RATE), one.enhance(noisy, RATE)
    assert np.max(np.abs(got - want)) <= 1e-6 * np.max(np.abs(want))


def test_onnx_backend_refuses_bf16_and_a_torch_model(exported):
    with pytest.raises(ValueError, match="bf16"):
        Enhancer.from_pretrained(exported, backend="onnx", precision="bf16")
    with pytest.raises(ValueError, match="OnnxModel"):
        Enhancer(load_model(exported), backend="onnx")
    assert Enhancer.from_pretrained(exported, backend="onnx").precision == "fp32"


def test_docs_snippet_runs_verbatim(exported, tmp_path):
    snippet = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    (tmp_path / "my_model").mkdir()
    (tmp_path / "my_model" / ONNX_NAME).write_bytes((exported / ONNX_NAME).read_bytes())
    noisy = (0.1 * np.random.default_rng(2).standard_normal(3001)).astype(np.float32)
    sf.write(tmp_path / "noisy.wav", noisy, RATE, subtype="FLOAT")
    done = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    got = sf.read(tmp_path / "enhanced.wav", dtype="float32")[0]
    np.testing.assert_allclose(got, OnnxModel(exported)(noisy[None])[0], atol=1e-4)


def test_export_activations_are_the_same_functions() -> None:
    """The exported copy's PReLUs become LeakyReLU / max(x, s x): equal outputs, any slope sign;
    a slope above 1 keeps its PReLU (max(x, s x) would be wrong there)."""
    from torch import nn

    from tfgridnet.model.onnx_export import fast_activations

    x = torch.randn(3, 4, 50)
    for weight in ([0.25], [-0.3], [1.7], [0.2, -0.5, 1.0, 0.0], [0.2, 1.5, 0.1, 0.3]):
        prelu = nn.PReLU(num_parameters=len(weight))
        with torch.no_grad():
            prelu.weight.copy_(torch.tensor(weight))
        holder = fast_activations(nn.Sequential(prelu))
        assert isinstance(holder[0], nn.PReLU) == (len(weight) > 1 and max(weight) > 1)
        torch.testing.assert_close(holder[0](x), prelu(x), rtol=0, atol=0)


def test_channel_last_embed_in_onnxruntime_at_the_seed_models_size(tmp_path) -> None:
    """The export's first conv + GroupNorm(1, C) over a seed-sized [T=251, F=257, C=128] map: a
    float32 ReduceMean over all 8 M values at once is 1 % off in onnxruntime, so the statistics
    are means of means; the result must match float64 like PyTorch's own module does."""
    import onnxruntime as ort
    from torch import nn

    from tfgridnet.model.stack import embed_channel_last

    class Embed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Sequential(nn.Conv2d(2, 128, (3, 3), padding=(1, 1)),
                                      nn.GroupNorm(1, 128))

        def forward(self, spec: torch.Tensor) -> torch.Tensor:
            return embed_channel_last(self.conv, spec)

    torch.manual_seed(0)
    embed = Embed().eval()
    spec = 3 * torch.randn(1, 2, 251, 257) + 1  # [B, 2, T, F]
    path = tmp_path / "embed.onnx"
    with torch.no_grad():
        torch.onnx.export(embed, (spec,), str(path), dynamo=True, opset_version=18,
                          input_names=["spec"], optimize=False)
        want = embed.double()(spec.double()).numpy()
        module = embed.conv.float()(spec).permute(2, 0, 3, 1).double().numpy()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"spec": spec.numpy()})[0]
    module_error = np.abs(module - want).max()
    assert module_error < 1e-4
    assert np.abs(got - want).max() < 10 * module_error


@pytest.mark.parametrize(("cpu_class", "backend"), [("avx2", "onnx"), ("amx", "torch")])
def test_from_pretrained_backend_auto_on_each_cpu_family(exported, simulate_cpu, cpu_class,
                                                         backend):
    simulate_cpu(cpu_class)
    assert Enhancer.from_pretrained(exported, backend="auto").backend == backend
    assert Enhancer.from_pretrained(exported / ONNX_NAME, backend="auto").backend == "onnx"
