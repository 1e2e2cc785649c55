#!/usr/bin/env python3
"""ONNX fixtures for the `dilated-onnx` tests, made by PyTorch and the `onnx` package.

Run from the repository root with the interpreter of an environment that has the pinned
packages of `scripts/requirements.txt` plus `onnxscript` (the dynamo exporter needs it):

    python scripts/make_onnx_fixtures.py            # rewrite fixtures/onnx/
    python scripts/make_onnx_fixtures.py --check    # regenerate into a temporary folder and
                                                    # compare the verdicts and the outputs

It writes, under `fixtures/onnx/` (format in `fixtures/onnx/README.md`):

- `models/<case>.<exporter>.onnx`: small PyTorch models (a dilated chain with rates
  `[2, 4, 8]`, one with `[1, 2, 5]`, a residual WaveNet block, an ASPP head, a TCN, a
  weight-normalised TemporalBlock with a 1×1 downsample, an ESP module, the ASPP head
  broadcasting its pooled branch by `expand`, a causal chain chomped the TCN way, a chain
  with GELU (exact, and the tanh approximation), and
  three graphs outside `dilated_stack!`'s grammar for `dilated import`'s refusals),
  exported by the TorchScript exporter (`dynamo=False`) and by the dynamo exporter (PyTorch's
  default) where it works; `models/<case>.input.pb` / `.output.pb` hold one input and
  ONNX Runtime's output (TensorProto files, as in the ONNX backend tests);
- `models/index.json`: every case, its exporters, shapes, and the receptive field, hole
  count and global flag measured by an independent oracle (the gradient of the centre
  output with respect to the input, with positive weights: a position is seen when its
  gradient is non-zero);
- `light/*.onnx`: the `light` models of the ONNX package's backend test data (weights as
  `ConstantOfShape` nodes), copied as they are; `light/shapes.json`: the shapes the `onnx`
  package's own shape inference gives every node output (but the `ConstantOfShape`
  weights), and the last feature map (the last 4D output larger than 1×1), for the Rust
  shape inference to be compared with;
- `conformance/test_Conv{1,2}d*/`: the ONNX package's `pytorch-converted` convolution
  cases (model, one input, the stored output), copied as they are.

The files copied from the `onnx` package are Apache-2.0; `fixtures/onnx/NOTICE` says so and
`fixtures/onnx/LICENSE-onnx` is the package's licence text, copied next to them.

Every model is seeded on its own; outputs are computed by ONNX Runtime on one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
OPSET = 18
TOLERANCE = 1e-4


# --------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------


class Chain(nn.Module):
    """Kernel-3 2D convolutions with `same` padding and a ReLU after each (a context module)."""

    def __init__(self, rates: list[int], channels: int = 4):
        super().__init__()
        layers: list[nn.Module] = []
        for r in rates:
            layers += [nn.Conv2d(channels, channels, 3, padding=r, dilation=r), nn.ReLU()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class WaveNetBlock(nn.Module):
    """WaveNet's residual stack: causal dilated 1D convolutions (left zero padding), gated
    activation `tanh(a) · sigmoid(b)` over the two halves of the channels, 1×1 residual and
    skip convolutions, skip outputs summed."""

    def __init__(self, channels: int = 8, kernel: int = 2, rates=(1, 2, 4, 8)):
        super().__init__()
        self.kernel = kernel
        self.rates = list(rates)
        self.dilated = nn.ModuleList(
            nn.Conv1d(channels, 2 * channels, kernel, dilation=d) for d in self.rates
        )
        self.res = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in self.rates)
        self.skip = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in self.rates)

    def forward(self, x):
        skips = None
        for conv, res, skip, d in zip(self.dilated, self.res, self.skip, self.rates):
            h = conv(F.pad(x, (d * (self.kernel - 1), 0)))
            a, b = h.chunk(2, dim=1)
            z = torch.tanh(a) * torch.sigmoid(b)
            s = skip(z)
            skips = s if skips is None else skips + s
            x = x + res(z)
        return skips


class Aspp(nn.Module):
    """DeepLab v3's ASPP head: a 1×1 branch, three 3×3 branches at rates 6, 12, 18, an
    image-pooling branch upsampled back, concatenated and projected by a 1×1 convolution."""

    def __init__(self, c_in: int = 8, c: int = 8, rates=(6, 12, 18)):
        super().__init__()

        def cbr(k, r):
            return nn.Sequential(
                nn.Conv2d(c_in, c, k, padding=(k // 2) * r, dilation=r, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(),
            )

        self.branches = nn.ModuleList([cbr(1, 1)] + [cbr(3, r) for r in rates])
        self.pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(c_in, c, 1, bias=False), nn.ReLU()
        )
        self.project = nn.Sequential(
            nn.Conv2d(c * (len(rates) + 2), c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()
        )

    def forward(self, x):
        outs = [b(x) for b in self.branches]
        p = self.pool(x)
        outs.append(F.interpolate(p, size=x.shape[-2:], mode="bilinear", align_corners=False))
        return self.project(torch.cat(outs, dim=1))


class AsppExpand(Aspp):
    """The ASPP head with its image-pooling branch broadcast back by `expand` (a
    `torch.Tensor.expand` of the 1×1 map) instead of a bilinear upsampling."""

    def forward(self, x):
        outs = [b(x) for b in self.branches]
        p = self.pool(x)
        outs.append(p.expand(-1, -1, x.shape[-2], x.shape[-1]))
        return self.project(torch.cat(outs, dim=1))


class Chomp1d(nn.Module):
    """Drops the last `chomp` steps: turns symmetric padding into causal padding (TCN)."""

    def __init__(self, chomp: int):
        super().__init__()
        self.chomp = chomp

    def forward(self, x):
        return x[:, :, : -self.chomp].contiguous()


class TemporalBlock(nn.Module):
    """Bai et al.'s TCN block: two causal dilated convolutions (padding then chomp), ReLU,
    dropout, and a residual connection (1×1 convolution when the channels change)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int):
        super().__init__()
        pad = (kernel - 1) * dilation
        self.net = nn.Sequential(
            nn.Conv1d(c_in, c_out, kernel, padding=pad, dilation=dilation),
            Chomp1d(pad),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Conv1d(c_out, c_out, kernel, padding=pad, dilation=dilation),
            Chomp1d(pad),
            nn.ReLU(),
            nn.Dropout(0.2),
        )
        self.down = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, x):
        res = x if self.down is None else self.down(x)
        return torch.relu(self.net(x) + res)


class Tcn(nn.Module):
    """A TCN of four temporal blocks, rates 1, 2, 4, 8, kernel 3."""

    def __init__(self, c_in: int = 3, channels: int = 8, kernel: int = 3):
        super().__init__()
        blocks = []
        for i, d in enumerate([1, 2, 4, 8]):
            blocks.append(TemporalBlock(c_in if i == 0 else channels, channels, kernel, d))
        self.net = nn.Sequential(*blocks)

    def forward(self, x):
        return self.net(x)


class WnTemporalBlock(nn.Module):
    """Bai et al.'s TemporalBlock as their repository writes it: weight-normalised causal
    convolutions (`torch.nn.utils.parametrizations.weight_norm`), chomp, ReLU, dropout, and
    a 1×1 downsample on the residual path where the channels change."""

    def __init__(self, c_in: int = 4, c_out: int = 8, kernel: int = 3, dilation: int = 2):
        super().__init__()
        wn = torch.nn.utils.parametrizations.weight_norm
        pad = (kernel - 1) * dilation
        self.net = nn.Sequential(
            wn(nn.Conv1d(c_in, c_out, kernel, padding=pad, dilation=dilation)),
            Chomp1d(pad),
            nn.ReLU(),
            nn.Dropout(0.2),
            wn(nn.Conv1d(c_out, c_out, kernel, padding=pad, dilation=dilation)),
            Chomp1d(pad),
            nn.ReLU(),
            nn.Dropout(0.2),
        )
        self.downsample = nn.Conv1d(c_in, c_out, 1)

    def forward(self, x):
        return torch.relu(self.net(x) + self.downsample(x))


class EspModule(nn.Module):
    """ESPNet's ESP module (Mehta et al. 2018, `DilatedParllelResidualBlockB`): a 1×1
    reduction, parallel 3×3 convolutions at rates 1, 2, 4, 8, 16 fused hierarchically
    (`cat([d1, d2, d2 + d4, d2 + d4 + d8, …])`), a residual add, batch norm (eps 1e-3) and
    PReLU."""

    def __init__(self, c: int = 20, rates=(1, 2, 4, 8, 16)):
        super().__init__()
        n = c // len(rates)
        n1 = c - (len(rates) - 1) * n
        self.c1 = nn.Conv2d(c, n, 1, bias=False)
        self.d = nn.ModuleList(
            nn.Conv2d(n, n1 if i == 0 else n, 3, padding=r, dilation=r, bias=False)
            for i, r in enumerate(rates)
        )
        self.bn = nn.BatchNorm2d(c, eps=1e-3)
        self.act = nn.PReLU(c)

    def forward(self, x):
        o = self.c1(x)
        ds = [d(o) for d in self.d]
        outs = [ds[0], ds[1]]
        acc = ds[1]
        for d in ds[2:]:
            acc = acc + d
            outs.append(acc)
        return self.act(self.bn(x + torch.cat(outs, 1)))


class PoolChain(nn.Module):
    """A dilated conv, a local average pool (3×3, stride 1: the gradient oracle sees its
    whole window), a conv: outside `dilated_stack!`'s grammar (no local pools), a refusal
    case of `dilated import`."""

    def __init__(self, c: int = 4):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, padding=2, dilation=2)
        self.pool = nn.AvgPool2d(3, stride=1, padding=1)
        self.b = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.b(self.pool(torch.relu(self.a(x))))


class ProductBranches(nn.Module):
    """Two conv branches multiplied (not WaveNet's gate over one conv's halves): outside
    the grammar."""

    def __init__(self, c: int = 4):
        super().__init__()
        self.a = nn.Conv1d(c, c, 3, padding=2, dilation=2)
        self.b = nn.Conv1d(c, c, 3, padding=4, dilation=4)

    def forward(self, x):
        return self.a(x) * torch.sigmoid(self.b(x))


class CausalChain(nn.Module):
    """Causal dilated 1D convolutions written the TCN way (symmetric padding, then a chomp),
    ReLU between them, no residual: `dilated import` folds each chomp into its conv's
    padding and writes a chain."""

    def __init__(self, c: int = 4, rates=(1, 2, 4)):
        super().__init__()
        layers: list[nn.Module] = []
        for i, r in enumerate(rates):
            layers += [nn.Conv1d(c, c, 3, padding=2 * r, dilation=r), Chomp1d(2 * r)]
            if i + 1 < len(rates):
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Nested(nn.Module):
    """Residual blocks nested `depth` deep (`x + inner(conv(x))`): deeper than the block
    grammar's limit of 8 at depth 9, a refusal case of `dilated import`."""

    def __init__(self, depth: int = 9, c: int = 4):
        super().__init__()
        self.conv = nn.Conv1d(c, c, 3, padding=1)
        self.inner = Nested(depth - 1, c) if depth > 1 else None

    def forward(self, x):
        y = self.conv(x)
        if self.inner is not None:
            y = self.inner(y)
        return x + y


class GeluChain(nn.Module):
    """Dilated 2D convolutions with a GELU after each but the last. Both exporters write
    GELU out as element-wise ops (`Div`/`Erf`/`Add`/`Mul`, or `Pow`/`Mul`/`Add`/`Tanh`
    for `approximate="tanh"`): `dilated import` recognises the exact form as `gelu` and
    refuses the tanh form by name (the engine's GELU is the exact one)."""

    def __init__(self, approximate: str = "none", c: int = 4, rates=(1, 2, 4)):
        super().__init__()
        layers: list[nn.Module] = []
        for i, r in enumerate(rates):
            layers.append(nn.Conv2d(c, c, 3, padding=r, dilation=r))
            if i + 1 < len(rates):
                layers.append(nn.GELU(approximate=approximate))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


# name, constructor, input shape, dynamic axes for the TorchScript exporter (or None)
CASES = [
    ("chain_2_4_8", lambda: Chain([2, 4, 8]), [1, 4, 32, 32], None),
    ("chain_1_2_5", lambda: Chain([1, 2, 5]), [1, 4, 32, 32], None),
    ("wavenet_block", lambda: WaveNetBlock(), [1, 8, 64], None),
    ("aspp", lambda: Aspp(), [1, 8, 33, 33], None),
    ("tcn", lambda: Tcn(), [1, 3, 64], None),
    # The same TCN with a dynamic batch and length: `_` dimensions in the graph.
    ("tcn_dynamic", lambda: Tcn(), [1, 3, 64], {"x": {0: "batch", 2: "time"}}),
    # For `dilated import`: graphs the block grammar expresses, and two it does not.
    ("tcn_block_wn", lambda: WnTemporalBlock(), [1, 4, 48], None),
    ("esp", lambda: EspModule(), [1, 20, 24, 24], None),
    ("pool_chain", lambda: PoolChain(), [1, 4, 16, 16], None),
    ("product_branches", lambda: ProductBranches(), [1, 4, 32], None),
    ("nested", lambda: Nested(), [1, 4, 32], None),
    ("aspp_expand", lambda: AsppExpand(), [1, 8, 33, 33], None),
    ("causal_chain", lambda: CausalChain(), [1, 4, 40], None),
    ("gelu_chain", lambda: GeluChain(), [1, 4, 20, 20], None),
    ("gelu_tanh_chain", lambda: GeluChain("tanh"), [1, 4, 20, 20], None),
]


def build(index: int, make):
    """The model of case `index`, seeded on its own, in eval mode, with batch-norm
    statistics that are not the identity."""
    torch.manual_seed(1000 + index)
    model = make()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
            if isinstance(m, nn.PReLU):
                m.weight.uniform_(0.05, 0.5)
    return model.eval()


# --------------------------------------------------------------------------------------
# Export and run
# --------------------------------------------------------------------------------------


def export(model, x, path: Path, exporter: str, dynamic) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "torchscript":
            torch.onnx.export(
                model,
                (x,),
                str(path),
                dynamo=False,
                opset_version=OPSET,
                input_names=["x"],
                output_names=["y"],
                dynamic_axes=dynamic,
            )
        else:
            prog = torch.onnx.export(model, (x,), dynamo=True, opset_version=OPSET)
            prog.save(str(path))
    strip_metadata(path)
    onnx.checker.check_model(onnx.load(str(path)))


def strip_metadata(path: Path) -> None:
    """Drops doc strings and metadata: the dynamo exporter records Python stack traces
    (paths of the machine that exported) on every node, and they change with every edit of
    this script."""
    m = onnx.load(str(path))
    m.doc_string = ""
    del m.metadata_props[:]
    g = m.graph
    g.doc_string = ""
    del g.metadata_props[:]
    for n in g.node:
        n.doc_string = ""
        del n.metadata_props[:]
    for v in list(g.input) + list(g.output) + list(g.value_info):
        v.doc_string = ""
        del v.metadata_props[:]
    for t in g.initializer:
        t.doc_string = ""
        del t.metadata_props[:]
    onnx.save(m, str(path))


def run_ort(path: Path, x: np.ndarray) -> np.ndarray:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: x})[0]


def save_pb(array: np.ndarray, path: Path, name: str) -> None:
    path.write_bytes(numpy_helper.from_array(array, name).SerializeToString())


# --------------------------------------------------------------------------------------
# The oracle: which input positions reach the centre output (gradient with positive weights)
# --------------------------------------------------------------------------------------


def reach(make, index: int, channels: int, rank: int, size: int):
    """Receptive field (per axis), hole count and whether the centre output sees the whole
    input, measured on an input of `size` per spatial axis with every weight positive."""
    # float64, small positive weights and inputs: no activation saturates (a saturated tanh
    # has a gradient of exactly zero in float32, which would read as a hole).
    model = build(index, make).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.abs() * 0.1 + 0.01)
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
    shape = [1, channels] + [size] * rank
    g = torch.Generator().manual_seed(7)
    x = (torch.rand(shape, generator=g, dtype=torch.float64) * 0.1 + 0.05).requires_grad_()
    y = model(x)
    centre = tuple([0, slice(None)] + [s // 2 for s in y.shape[2:]])
    y[centre].sum().backward()
    seen = (x.grad[0].abs().sum(0) > 0).numpy()
    coords = np.nonzero(seen)
    lo = [int(c.min()) for c in coords]
    hi = [int(c.max()) for c in coords]
    field = [h - l + 1 for l, h in zip(lo, hi)]
    box = seen[tuple(slice(l, h + 1) for l, h in zip(lo, hi))]
    holes = int(box.size - box.sum())
    whole = bool(seen.all())
    return field, holes, whole


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def onnx_data_dir() -> Path:
    return Path(os.path.dirname(onnx.__file__)) / "backend" / "test" / "data"


def make_models(out: Path) -> list[dict]:
    models = out / "models"
    models.mkdir(parents=True, exist_ok=True)
    index = []
    for i, (name, make, shape, dynamic) in enumerate(CASES):
        model = build(i, make)
        x = torch.randn(shape, generator=torch.Generator().manual_seed(2000 + i))
        with torch.no_grad():
            expected = model(x).numpy()
        exporters = []
        outputs = {}
        for exporter in ("torchscript", "dynamo"):
            if exporter == "dynamo" and dynamic is not None:
                continue
            path = models / f"{name}.{exporter}.onnx"
            try:
                export(model, x, path, exporter, dynamic)
            except Exception as e:  # an exporter that cannot take the model is recorded
                print(f"{name}: the {exporter} exporter failed: {e}", file=sys.stderr)
                path.unlink(missing_ok=True)
                continue
            y = run_ort(path, x.numpy())
            err = float(np.abs(y - expected).max())
            if err > TOLERANCE:
                raise SystemExit(f"{name}.{exporter}: ONNX Runtime differs from PyTorch by {err}")
            exporters.append(exporter)
            outputs[exporter] = y
        save_pb(x.numpy(), models / f"{name}.input.pb", "input")
        save_pb(outputs[exporters[0]], models / f"{name}.output.pb", "output")
        rank = len(shape) - 2
        field, holes, whole = reach(make, i, shape[1], rank, 161 if rank == 2 else 301)
        index.append(
            {
                "name": name,
                "exporters": exporters,
                "input_shape": shape,
                "output_shape": list(expected.shape),
                "dynamic_axes": {str(k): v for k, v in (dynamic or {}).get("x", {}).items()},
                "receptive_field": field,
                "hole_count": holes,
                "global": whole,
            }
        )
    (models / "index.json").write_text(
        json.dumps(
            {
                "torch": torch.__version__,
                "onnx": onnx.__version__,
                "onnxruntime": ort.__version__,
                "opset": OPSET,
                "tolerance_abs": TOLERANCE,
                "cases": index,
            },
            indent=1,
        )
        + "\n"
    )
    return index


def copy_onnx_data(out: Path) -> None:
    data = onnx_data_dir()
    light = out / "light"
    light.mkdir(parents=True, exist_ok=True)
    for f in sorted((data / "light").glob("*.onnx")):
        shutil.copyfile(f, light / f.name)
    shapes = {}
    for f in sorted(light.glob("*.onnx")):
        m = onnx.load(str(f))
        inferred = onnx.shape_inference.infer_shapes(m, data_prop=True)
        known = {}
        for v in list(inferred.graph.value_info) + list(inferred.graph.output):
            dims = v.type.tensor_type.shape.dim
            if all(d.HasField("dim_value") for d in dims):
                known[v.name] = [d.dim_value for d in dims]
        outs, last = {}, None
        for n in m.graph.node:
            if n.op_type == "ConstantOfShape":
                continue
            for o in n.output:
                if o in known:
                    outs[o] = known[o]
                    if len(known[o]) == 4 and known[o][2] > 1:
                        last = [o, known[o]]
        shapes[f.name] = {"last_feature_map": last, "shapes": outs}
    (light / "shapes.json").write_text(
        "{\n"
        + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in shapes.items())
        + "\n}\n"
    )
    conf = out / "conformance"
    conf.mkdir(parents=True, exist_ok=True)
    for case in sorted((data / "pytorch-converted").iterdir()):
        n = case.name
        if not (n.startswith("test_Conv1d") or n.startswith("test_Conv2d")):
            continue
        dst = conf / n / "test_data_set_0"
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(case / "model.onnx", conf / n / "model.onnx")
        for f in ("input_0.pb", "output_0.pb"):
            shutil.copyfile(case / "test_data_set_0" / f, dst / f)
    lic = Path(os.path.dirname(onnx.__file__)).parent / f"onnx-{onnx.__version__}.dist-info"
    text = None
    for cand in (lic / "licenses" / "LICENSE", lic / "LICENSE"):
        if cand.exists():
            text = cand.read_text()
            break
    if text is None:
        raise SystemExit("cannot find the onnx package's LICENSE file")
    (out / "LICENSE-onnx").write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args()
    torch.set_num_threads(1)
    target = ROOT / "fixtures" / "onnx"
    if not args.check:
        make_models(target)
        copy_onnx_data(target)
        print(f"wrote {target.relative_to(ROOT)}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        fresh = make_models(Path(tmp))
        committed = json.loads((target / "models" / "index.json").read_text())["cases"]
        if fresh != committed:
            raise SystemExit("models/index.json differs from a fresh run")
        for case in fresh:
            a = numpy_helper.to_array(
                onnx.load_tensor(str(target / "models" / f"{case['name']}.output.pb"))
            )
            b = numpy_helper.to_array(
                onnx.load_tensor(str(Path(tmp) / "models" / f"{case['name']}.output.pb"))
            )
            if a.shape != b.shape or float(np.abs(a - b).max()) > TOLERANCE:
                raise SystemExit(f"{case['name']}: the stored output differs from a fresh run")
    print("fixtures/onnx: the committed cases match a fresh run")


if __name__ == "__main__":
    main()
