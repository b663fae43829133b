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
from tests.tiny import tiny_args

from tfgridnet.cli import main
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.inference.onnx_backend import INPUT_NAME, ONNX_NAME, OUTPUT_NAME, OnnxModel
from tfgridnet.model.io import load_model, save_exported
from tfgridnet.model.tfgridnetv2 import TFGridNetV2

pytestmark = pytest.mark.slow  # one export of a tiny model (tens of seconds), shared by the module

RATE = 8000
TINY = tiny_args()
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


# --- torch-free deployment: tfgridnet.onnx with torch & co. impossible to import -----------------

# Everything of the [torch] extra (and rich, which only the command line uses) raises on import.
IMPORT_BLOCKER = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
sys.meta_path.insert(0, Blocker())
"""
TORCH_EXTRA = ("torch", "lightning", "pytorch_lightning", "torchmetrics", "torchaudio", "scipy",
               "matplotlib", "yaml", "pydantic", "safetensors", "pesq", "pystoi", "tensorboard",
               "jinja2", "markdown_it", "onnx", "onnxscript", "librosa", "espeakng_loader")
SRC = str(Path(__file__).resolve().parents[2] / "src")


def run_blocked(code: str, blocked: tuple[str, ...], cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter in which importing any of ``blocked`` fails."""
    return subprocess.run([sys.executable, "-c", IMPORT_BLOCKER.format(blocked=set(blocked)) + code],
                          cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"})


def test_torch_free_enhancer_streams_any_rate_multichannel_like_the_torch_path(exported, tmp_path):
    """tfgridnet.onnx with torch, Lightning, scipy, matplotlib, rich ... unimportable: a stereo
    array at 44.1 kHz, a long stereo FLAC at 22.05 kHz streamed in blocks and a folder through
    enhance_files; every output equals the torch backend's through the same code."""
    rng = np.random.default_rng(5)
    stereo = (0.1 * rng.standard_normal((int(1.7 * 44100), 2))).astype(np.float32)  # [N, C]
    np.save(tmp_path / "stereo.npy", stereo)
    long_file = 0.1 * rng.standard_normal((int(3.1 * 22050), 2))
    sf.write(tmp_path / "long.flac", long_file, 22050, subtype="PCM_24")
    (tmp_path / "folder").mkdir()
    sf.write(tmp_path / "folder" / "mono.wav", 0.1 * rng.standard_normal(4000), 16000)
    kwargs = dict(chunk_seconds=0.25, overlap_seconds=0.05)
    code = f"""
import sys
import numpy as np
from tfgridnet.onnx import enhance_files, load
enhancer = load({str(exported)!r}, **{kwargs!r})
assert enhancer.backend == "onnx" and enhancer.precision == "fp32"
np.save("stereo_out.npy", enhancer.enhance(np.load("stereo.npy"), 44100))
enhancer.enhance_file("long.flac", "long_out.flac")
result = enhance_files(enhancer, ["folder"], "out_dir")
assert [p.name for p in result.written] == ["mono.wav"] and not result.failed, result
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {set(TORCH_EXTRA) | {"rich"}!r})
print("loaded:", heavy)
"""
    done = run_blocked(code, TORCH_EXTRA + ("rich",), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "loaded: []"

    torch_enhancer = Enhancer.from_pretrained(exported, backend="torch", precision="fp32",
                                              **kwargs)
    pairs = [(np.load(tmp_path / "stereo_out.npy"), torch_enhancer.enhance(stereo, 44100))]
    torch_enhancer.enhance_file(tmp_path / "long.flac", tmp_path / "long_torch.flac")
    pairs.append((sf.read(tmp_path / "long_out.flac")[0], sf.read(tmp_path / "long_torch.flac")[0]))
    torch_enhancer.enhance_file(tmp_path / "folder" / "mono.wav", tmp_path / "mono_torch.wav")
    pairs.append((sf.read(tmp_path / "out_dir" / "mono.wav")[0],
                  sf.read(tmp_path / "mono_torch.wav")[0]))
    for got, want in pairs:
        assert got.shape == want.shape
        # the FLAC is 24-bit: one quantisation step apart at most, besides the backends' 1e-4
        assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max() + 2.0 ** -22


def test_torch_free_command_line(exported, tmp_path):
    """`tfgridnet enhance --backend onnx` runs without the [torch] extra; a command that needs
    it says which extra to install in one line (exit 2)."""
    sf.write(tmp_path / "in.wav", 0.1 * np.random.default_rng(6).standard_normal((9000, 2)), 24000)
    code = f"""
import sys
from tfgridnet.cli import main
rc = main(["enhance", {str(exported)!r}, "in.wav", "--out", "out", "--backend", "onnx"])
assert rc == 0, rc
sys.exit(main(["train", "demo", "--out", "run"]) * 10 + main(["enhance", {str(exported)!r},
                                                              "in.wav", "--out", "out2"]))
"""
    done = run_blocked(code, TORCH_EXTRA, tmp_path)
    assert done.returncode == 22, (done.returncode, done.stderr)
    assert sf.info(tmp_path / "out" / "in.wav").channels == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith("tfgridnet train: error: ") and "tfgridnet[torch]" in lines[0]
    assert lines[1].startswith("tfgridnet enhance: error: ") and "--backend onnx" in lines[1]


def test_v3_export_is_refused_in_one_line_with_the_reason(tmp_path, capsys):
    from tfgridnet.model.tfgridnetv3 import TFGridNetV3

    v3 = TFGridNetV3(**tiny_args("v3"))
    source = save_exported(v3, 16000, tmp_path / "v3")
    assert main(["export", str(source), "--format", "onnx", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "TF-GridNetV2 models only" in err and "sample rate" in err and "torch backend" in err
    assert not (tmp_path / "out" / ONNX_NAME).exists()
@pytest.mark.parametrize(("cpu_class", "backend"), [("avx2", "onnx"), ("amx", "torch")])
def test_from_pretrained_backend_auto_on_each_cpu_family(exported, simulate_cpu, cpu_class,
                                                         backend):
    simulate_cpu(cpu_class)
    assert Enhancer.from_pretrained(exported, backend="auto").backend == backend
    assert Enhancer.from_pretrained(exported / ONNX_NAME, backend="auto").backend == "onnx"
