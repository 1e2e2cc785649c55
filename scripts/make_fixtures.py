#!/usr/bin/env python3
"""Golden fixtures for the Rust tests, made by PyTorch.

Regenerate (bit-identical; run from the repository root):

    python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements.txt
    .venv/bin/python scripts/make_fixtures.py

Writes `fixtures/conv/*` (single convolution layers) and `fixtures/stack/*` (stacks saved as a
`torch.nn.Sequential`, conv, activation, conv, activation, ...). The format is documented in
`fixtures/README.md`; `--check` regenerates into a temporary directory and fails if anything
differs from the committed files.

Every case is seeded on its own (seed = position in the case list + 1000), so adding a case
at the end does not change the others. Outputs are computed in float32 on the CPU with one
thread; the script also recomputes every output in float64 and records the largest
difference (`f64_max_abs_diff`) so a reader can see how far float32 rounding alone goes.
"""

from __future__ import annotations

import argparse
import filecmp
import copy
import json
import re
import sys
import warnings
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-4


# --------------------------------------------------------------------------------------
# Padding helpers (PyTorch's conventions, written out so the JSON records what was applied)
# --------------------------------------------------------------------------------------


def same_split(k: int, d: int) -> list[int]:
    """PyTorch's `padding='same'` split for one axis: total d·(k−1), lo = total // 2."""
    total = d * (k - 1)
    lo = total // 2
    return [lo, total - lo]


class CausalConv1d(nn.Conv1d):
    """A Conv1d that pads `dilation·(kernel − 1)` zeros on the left and none on the right.

    A subclass of `nn.Conv1d`, so inside an `nn.Sequential` its parameters keep the plain
    `<index>.weight` / `<index>.bias` names (a separate `nn.ConstantPad1d` module would shift
    the indices).
    """

    def __init__(self, *args, **kwargs):
        kwargs["padding"] = 0
        super().__init__(*args, **kwargs)

    def left_pad(self) -> int:
        return self.dilation[0] * (self.kernel_size[0] - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left_pad(), 0)))


# --------------------------------------------------------------------------------------
# Activations: PyTorch module + JSON record
# --------------------------------------------------------------------------------------


def activation(spec: dict) -> nn.Module:
    name = spec["name"]
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(spec["slope"])
    if name == "gelu":
        assert spec.get("approximate", "none") == "none"
        return nn.GELU(approximate="none")
    if name == "tanh":
        return nn.Tanh()
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "silu":
        return nn.SiLU()
    raise ValueError(name)


def activation_record(spec: dict | None) -> dict:
    if spec is None:
        return {"name": "none"}
    rec = {"name": spec["name"]}
    if spec["name"] == "leaky_relu":
        rec["slope"] = spec["slope"]
    if spec["name"] == "gelu":
        rec["approximate"] = "none"
    return rec


# --------------------------------------------------------------------------------------
# Single-layer cases
# --------------------------------------------------------------------------------------

# padding: "same" (PyTorch's padding='same'), "causal" (F.pad left then conv), or an explicit
# per-axis list [[top, bottom], [left, right]] (2D) / [left, right] (1D) applied with F.pad
# (PyTorch's own `padding=` argument is symmetric, so explicit asymmetric padding goes through
# F.pad; symmetric explicit padding is passed to the module).
CONV_CASES: list[dict] = [
    dict(name="k3_d2_same", dims=2, cin=4, cout=5, k=[3, 3], d=[2, 2], s=[1, 1], groups=1,
         padding="same", bias=True, batch=1, size=[11, 13],
         what="k3 rate 2, 'same' (symmetric, 2 per side)"),
    dict(name="k3_d4_s2_explicit", dims=2, cin=3, cout=4, k=[3, 3], d=[4, 4], s=[2, 2], groups=1,
         padding=[[3, 3], [3, 3]], bias=True, batch=1, size=[17, 16],
         what="k3 rate 4 stride 2, explicit padding 3 on every side"),
    dict(name="depthwise_d3", dims=2, cin=6, cout=6, k=[3, 3], d=[3, 3], s=[1, 1], groups=6,
         padding="same", bias=True, batch=1, size=[12, 10],
         what="depthwise (groups = C = 6), k3 rate 3, 'same'"),
    dict(name="grouped_g2", dims=2, cin=4, cout=6, k=[3, 3], d=[2, 2], s=[1, 1], groups=2,
         padding="same", bias=True, batch=1, size=[9, 9],
         what="grouped conv, groups 2 (4 -> 6 channels), k3 rate 2, 'same'"),
    dict(name="causal1d_k3_d2", dims=1, cin=3, cout=4, k=[1, 3], d=[1, 2], s=[1, 1], groups=1,
         padding="causal", bias=True, batch=1, size=[1, 20],
         what="1D causal, k3 rate 2: 4 zeros on the left, none on the right"),
    dict(name="k2_same", dims=2, cin=3, cout=3, k=[2, 2], d=[1, 1], s=[1, 1], groups=1,
         padding="same", bias=True, batch=1, size=[8, 9],
         what="even kernel k2 'same': total 1 per axis, split lo 0 / hi 1"),
    dict(name="k4_d2_same", dims=2, cin=3, cout=2, k=[4, 4], d=[2, 2], s=[1, 1], groups=1,
         padding="same", bias=True, batch=1, size=[12, 11],
         what="even kernel k4 rate 2 'same': total 6, symmetric 3 / 3"),
    dict(name="k4_same", dims=2, cin=2, cout=3, k=[4, 4], d=[1, 1], s=[1, 1], groups=1,
         padding="same", bias=True, batch=1, size=[10, 7],
         what="even kernel k4 'same': total 3 per axis, split lo 1 / hi 2"),
    dict(name="rect_k3x5_d1x3", dims=2, cin=3, cout=4, k=[3, 5], d=[1, 3], s=[1, 1], groups=1,
         padding="same", bias=True, batch=1, size=[9, 20],
         what="rectangular kernel 3x5 with per-axis rate 1x3, 'same' (1/1 rows, 6/6 columns)"),
    dict(name="batch2_k3_d2", dims=2, cin=3, cout=4, k=[3, 3], d=[2, 2], s=[1, 1], groups=1,
         padding="same", bias=True, batch=2, size=[10, 10],
         what="batch 2, k3 rate 2, 'same'"),
    dict(name="out1x1_k3_d2", dims=2, cin=5, cout=3, k=[3, 3], d=[2, 2], s=[1, 1], groups=1,
         padding=[[0, 0], [0, 0]], bias=True, batch=1, size=[5, 5],
         what="1x1 output: 5x5 input, k3 rate 2 (effective 5), no padding"),
    dict(name="nobias_k3_d2", dims=2, cin=4, cout=4, k=[3, 3], d=[2, 2], s=[1, 1], groups=1,
         padding="same", bias=False, batch=1, size=[8, 8],
         what="no bias, k3 rate 2, 'same'"),
    dict(name="span_wider_than_input", dims=2, cin=2, cout=3, k=[3, 3], d=[3, 3], s=[1, 1],
         groups=1, padding="same", bias=True, batch=1, size=[3, 4],
         what="effective kernel 7 wider than the 3x4 input, 'same' padding 3 per side"),
    dict(name="asym_explicit_s2_d2", dims=2, cin=3, cout=5, k=[3, 3], d=[2, 2], s=[2, 2],
         groups=1, padding=[[1, 2], [0, 3]], bias=True, batch=1, size=[11, 12],
         what="explicit asymmetric padding (1/2 rows, 0/3 columns), stride 2, rate 2"),
    dict(name="conv1d_k3_d8_same", dims=1, cin=4, cout=4, k=[1, 3], d=[1, 8], s=[1, 1], groups=1,
         padding="same", bias=True, batch=1, size=[1, 40],
         what="1D k3 rate 8, 'same' (8 / 8)"),
    dict(name="conv1d_k2_same", dims=1, cin=2, cout=3, k=[1, 2], d=[1, 3], s=[1, 1], groups=1,
         padding="same", bias=True, batch=2, size=[1, 15],
         what="1D even kernel k2 rate 3 'same' (total 3: lo 1 / hi 2), batch 2"),
    dict(name="depthwise1d_causal_d4", dims=1, cin=5, cout=5, k=[1, 3], d=[1, 4], s=[1, 1],
         groups=5, padding="causal", bias=True, batch=1, size=[1, 24],
         what="1D depthwise causal, k3 rate 4 (8 zeros on the left)"),
]


def applied_padding(case: dict) -> list[list[int]]:
    """The [[top, bottom], [left, right]] padding the case applies."""
    p = case["padding"]
    k, d = case["k"], case["d"]
    if p == "same":
        return [same_split(k[0], d[0]), same_split(k[1], d[1])]
    if p == "causal":
        return [[0, 0], [d[1] * (k[1] - 1), 0]]
    return [list(p[0]), list(p[1])]


def build_conv(case: dict) -> tuple[nn.Module, callable]:
    """The PyTorch module (whose state_dict is saved) and the forward function to use."""
    dims, pad = case["dims"], case["padding"]
    common = dict(groups=case["groups"], bias=case["bias"])
    if dims == 2:
        if pad == "same":
            conv = nn.Conv2d(case["cin"], case["cout"], tuple(case["k"]), stride=tuple(case["s"]),
                             dilation=tuple(case["d"]), padding="same", **common)
            return conv, conv
        (t, b), (l, r) = pad
        if t == b and l == r:
            conv = nn.Conv2d(case["cin"], case["cout"], tuple(case["k"]), stride=tuple(case["s"]),
                             dilation=tuple(case["d"]), padding=(t, l), **common)
            return conv, conv
        conv = nn.Conv2d(case["cin"], case["cout"], tuple(case["k"]), stride=tuple(case["s"]),
                         dilation=tuple(case["d"]), padding=0, **common)
        return conv, lambda x: conv(F.pad(x, (l, r, t, b)))
    # 1D
    k, d, s = case["k"][1], case["d"][1], case["s"][1]
    if pad == "causal":
        conv = CausalConv1d(case["cin"], case["cout"], k, stride=s, dilation=d, **common)
        return conv, conv
    if pad == "same":
        conv = nn.Conv1d(case["cin"], case["cout"], k, stride=s, dilation=d, padding="same",
                         **common)
        return conv, conv
    (_, _), (l, r) = pad
    conv = nn.Conv1d(case["cin"], case["cout"], k, stride=s, dilation=d, padding=0, **common)
    return conv, lambda x: conv(F.pad(x, (l, r)))


def explicit_forward(x: torch.Tensor, weight, bias, dims, stride, dilation, groups, padding):
    """The same convolution with the recorded padding applied by hand (cross-check)."""
    (t, b), (l, r) = padding
    if dims == 2:
        return F.conv2d(F.pad(x, (l, r, t, b)), weight, bias, stride=stride, dilation=dilation,
                        groups=groups)
    return F.conv1d(F.pad(x, (l, r)), weight, bias, stride=stride[1], dilation=dilation[1],
                    groups=groups)


def input_shape(dims: int, batch: int, channels: int, size: list[int]) -> list[int]:
    return [batch, channels, *size] if dims == 2 else [batch, channels, size[1]]


def f64_diff(fwd64, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        y64 = fwd64(x.double())
    return float((y64 - y.double()).abs().max())


def make_conv(case: dict, seed: int, out_dir: Path) -> int:
    torch.manual_seed(seed)
    module, fwd = build_conv(case)
    dims = case["dims"]
    x = torch.randn(input_shape(dims, case["batch"], case["cin"], case["size"]))
    with torch.no_grad():
        y = fwd(x)
    pad = applied_padding(case)
    # Cross-check: the recorded padding, applied by hand, gives the same output.
    with torch.no_grad():
        y2 = explicit_forward(x, module.weight, module.bias, dims, case["s"], case["d"],
                              case["groups"], pad)
    assert y.shape == y2.shape and torch.allclose(y, y2, atol=1e-6), case["name"]
    diff64 = f64_diff(
        lambda x64: explicit_forward(x64, module.weight.double(),
                                     None if module.bias is None else module.bias.double(),
                                     dims, case["s"], case["d"], case["groups"], pad),
        x, y)
    assert diff64 < TOLERANCE / 10, (case["name"], diff64)

    name = case["name"]
    state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(out_dir / f"{name}.safetensors"))
    save_file({"input": x.contiguous(), "output": y.contiguous()},
              str(out_dir / f"{name}.io.safetensors"))
    cfg = {
        "name": name,
        "description": case["what"],
        "dims": dims,
        "in_channels": case["cin"],
        "out_channels": case["cout"],
        "kernel": case["k"] if dims == 2 else case["k"][1],
        "dilation": case["d"] if dims == 2 else case["d"][1],
        "stride": case["s"] if dims == 2 else case["s"][1],
        "groups": case["groups"],
        "padding": pad,
        "padding_kind": case["padding"] if isinstance(case["padding"], str) else "explicit",
        "bias": case["bias"],
        "activation": {"name": "none"},
        "batch": case["batch"],
        "input_shape": list(x.shape),
        "output_shape": list(y.shape),
        "weight_shape": list(module.weight.shape),
        "tolerance_abs": TOLERANCE,
        "f64_max_abs_diff": float(f"{diff64:.3e}"),
        "seed": seed,
    }
    write_json(out_dir / f"{name}.json", cfg)
    return seed


# --------------------------------------------------------------------------------------
# Stack cases
# --------------------------------------------------------------------------------------

RELU = {"name": "relu"}
STACK_CASES: list[dict] = [
    dict(name="hdc_125_relu", input=[3, 16, 16], kernel=3, rates=[1, 2, 5], channels=8,
         padding="same", activation=RELU, act_after_last=True, batch=1,
         what="compact 2D HDC [1, 2, 5], 3 -> 8 channels, ReLU after every conv"),
    dict(name="hdc_125125_gelu", input=[4, 24, 20], kernel=3, rates=[1, 2, 5, 1, 2, 5],
         channels=6, padding="same", activation={"name": "gelu"}, act_after_last=True, batch=1,
         what="compact 2D HDC [1, 2, 5, 1, 2, 5], 4 -> 6 channels, exact (erf) GELU"),
    dict(name="wavenet_causal_k2_leaky", input=[2, 48], kernel=2, rates=[1, 2, 4, 8],
         channels=4, padding="causal", activation={"name": "leaky_relu", "slope": 0.2},
         act_after_last=True, batch=2,
         what="1D causal WaveNet-style stack, k2 rates 1, 2, 4, 8, 2 -> 4 channels, "
              "leaky_relu(0.2), batch 2"),
    dict(name="tanh_123", input=[3, 12, 12], kernel=3, rates=[1, 2, 3], channels=None,
         padding="same", activation={"name": "tanh"}, act_after_last=True, batch=1,
         what="compact 2D [1, 2, 3], channels default (3 -> 3), tanh"),
    dict(name="sigmoid_12", input=[2, 10, 14], kernel=3, rates=[1, 2], channels=5,
         padding="same", activation={"name": "sigmoid"}, act_after_last=True, batch=1,
         what="compact 2D [1, 2], 2 -> 5 channels, sigmoid"),
    dict(name="silu_1d_same_135", input=[3, 40], kernel=3, rates=[1, 3, 5], channels=4,
         padding="same", activation={"name": "silu"}, act_after_last=True, batch=1,
         what="compact 1D [1, 3, 5] 'same', 3 -> 4 channels, SiLU"),
    dict(name="relu_125_no_last_act", input=[4, 16, 16], kernel=3, rates=[1, 2, 5], channels=4,
         padding="same", activation=RELU, act_after_last=False, batch=1,
         what="[1, 2, 5] with ReLU between convs but none after the last one "
              "(not the compact form; the benchmark's stack shape)"),
    dict(name="relu_k2_same_12", input=[2, 9, 11], kernel=2, rates=[1, 2], channels=3,
         padding="same", activation=RELU, act_after_last=True, batch=2,
         what="even kernel k2 'same' stack (asymmetric: rate 1 -> 0/1, rate 2 -> 1/1), batch 2"),
]


def build_stack(case: dict) -> tuple[nn.Sequential, list[dict]]:
    cin = case["input"][0]
    cout = case["channels"] or cin
    k = case["kernel"]
    dims = len(case["input"]) - 1
    mods: list[nn.Module] = []
    layers: list[dict] = []
    c = cin
    n = len(case["rates"])
    for i, d in enumerate(case["rates"]):
        idx = len(mods)
        if case["padding"] == "causal":
            assert dims == 1
            conv = CausalConv1d(c, cout, k, dilation=d)
            pad = [[0, 0], [d * (k - 1), 0]]
        elif dims == 2:
            conv = nn.Conv2d(c, cout, k, dilation=d, padding="same")
            pad = [same_split(k, d), same_split(k, d)]
        else:
            conv = nn.Conv1d(c, cout, k, dilation=d, padding="same")
            pad = [[0, 0], same_split(k, d)]
        mods.append(conv)
        has_act = case["act_after_last"] or i + 1 < n
        if has_act:
            mods.append(activation(case["activation"]))
        layers.append({
            "index": idx,
            "weight": f"{idx}.weight",
            "bias": f"{idx}.bias",
            "in_channels": c,
            "out_channels": cout,
            "kernel": [k, k] if dims == 2 else k,
            "dilation": [d, d] if dims == 2 else d,
            "stride": [1, 1] if dims == 2 else 1,
            "groups": 1,
            "padding": pad,
            "padding_kind": case["padding"],
            "has_bias": True,
            "weight_shape": list(conv.weight.shape),
            "activation": activation_record(case["activation"] if has_act else None),
            "activation_module_index": idx + 1 if has_act else None,
        })
        c = cout
    return nn.Sequential(*mods), layers


def stack_forward_f64(seq: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    seq64 = copy.deepcopy(seq).double()
    with torch.no_grad():
        return seq64(x.double())


def make_stack(case: dict, seed: int, out_dir: Path) -> None:
    torch.manual_seed(seed)
    seq, layers = build_stack(case)
    dims = len(case["input"]) - 1
    shape = [case["batch"], *case["input"]]
    x = torch.randn(shape)
    with torch.no_grad():
        y = seq(x)
    # Cross-check: run the layers with the recorded padding applied by hand.
    with torch.no_grad():
        h = x
        for layer in layers:
            conv = seq[layer["index"]]
            d2 = layer["dilation"] if dims == 2 else [1, layer["dilation"]]
            s2 = [1, 1]
            h = explicit_forward(h, conv.weight, conv.bias, dims, s2, d2, 1, layer["padding"])
            if layer["activation"]["name"] != "none":
                h = seq[layer["activation_module_index"]](h)
    assert h.shape == y.shape and torch.allclose(h, y, atol=1e-6), case["name"]
    y64 = stack_forward_f64(seq, x)
    diff64 = float((y64 - y.double()).abs().max())
    assert diff64 < TOLERANCE / 10, (case["name"], diff64)

    name = case["name"]
    state = {k: v.detach().contiguous() for k, v in seq.state_dict().items()}
    save_file(state, str(out_dir / f"{name}.safetensors"))
    save_file({"input": x.contiguous(), "output": y.contiguous()},
              str(out_dir / f"{name}.io.safetensors"))
    compact = {
        "input": case["input"],
        "kernel": case["kernel"],
        "rates": case["rates"],
        "channels": case["channels"],
        "activation": activation_record(case["activation"]),
    }
    cfg = {
        "name": name,
        "description": case["what"],
        "dims": dims,
        "compact_form": case["act_after_last"] and case["padding"] == "same",
        "declaration": compact,
        "padding": case["padding"],
        "activation_after_last": case["act_after_last"],
        "batch": case["batch"],
        "input_shape": list(x.shape),
        "output_shape": list(y.shape),
        "sequential": [type(m).__name__ for m in seq],
        "layers": layers,
        "tolerance_abs": TOLERANCE,
        "f64_max_abs_diff": float(f"{diff64:.3e}"),
        "seed": seed,
    }
    write_json(out_dir / f"{name}.json", cfg)


# --------------------------------------------------------------------------------------


def write_json(path: Path, obj: dict) -> None:
    """Indented JSON with every list of scalars (and list of such lists) on one line."""
    text = json.dumps(obj, indent=2)
    scalar_list = re.compile(r"\[\s*([^\[\]{}]*?)\s*\]", re.S)
    for _ in range(2):  # inner lists first, then lists of lists
        text = scalar_list.sub(
            lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]"
            if m.group(1).strip() else "[]", text)
    path.write_text(text + "\n")


def generate(out: Path) -> None:
    # PyTorch warns that even kernels with 'same' padding make a padded copy; that is the
    # very case we record.
    warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    (out / "conv").mkdir(parents=True, exist_ok=True)
    (out / "stack").mkdir(parents=True, exist_ok=True)
    names = [c["name"] for c in CONV_CASES] + [c["name"] for c in STACK_CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    for i, case in enumerate(CONV_CASES):
        make_conv(case, 1000 + i, out / "conv")
    for i, case in enumerate(STACK_CASES):
        make_stack(case, 2000 + i, out / "stack")
    index = {
        "torch": torch.__version__.split("+")[0],
        "tolerance_abs": TOLERANCE,
        "conv": [c["name"] for c in CONV_CASES],
        "stack": [c["name"] for c in STACK_CASES],
    }
    write_json(out / "index.json", index)


# --------------------------------------------------------------------------------------
# Independent check of the written files, with NumPy only and only what fixtures/README.md
# documents (padding as [[top, bottom], [left, right]], PyTorch weight layout, 1D = H of 1).
# --------------------------------------------------------------------------------------


def _np_conv(x, w, b, kernel, dilation, stride, groups, padding):
    """Naive NCHW convolution in float64 from the documented fields."""
    import numpy as np

    n, c, h, wd = x.shape
    cout = w.shape[0]
    (t, bo), (l, r) = padding
    xp = np.zeros((n, c, h + t + bo, wd + l + r))
    xp[:, :, t:t + h, l:l + wd] = x
    kh, kw = kernel
    dh, dw = dilation
    sh, sw = stride
    oh = (h + t + bo - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + l + r - dw * (kw - 1) - 1) // sw + 1
    cin_g, cout_g = c // groups, cout // groups
    y = np.zeros((n, cout, oh, ow))
    for o in range(cout):
        g = o // cout_g
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, g * cin_g:(g + 1) * cin_g,
                           i * dh:i * dh + sh * (oh - 1) + 1:sh,
                           j * dw:j * dw + sw * (ow - 1) + 1:sw]
                y[:, o] += np.einsum("nchw,c->nhw", patch, w[o, :, i, j])
        if b is not None:
            y[:, o] += b[o]
    return y


def _np_act(y, act):
    import numpy as np
    from math import erf

    name = act["name"]
    if name == "none":
        return y
    if name == "relu":
        return np.maximum(y, 0)
    if name == "leaky_relu":
        return np.where(y < 0, y * act["slope"], y)
    if name == "gelu":
        return 0.5 * y * (1 + np.vectorize(erf)(y / np.sqrt(2)))
    if name == "tanh":
        return np.tanh(y)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-y))
    if name == "silu":
        return y / (1 + np.exp(-y))
    raise ValueError(name)


def _as2d(v, dims):
    return v if dims == 2 else [1, v]


def verify_numpy(out: Path) -> float:
    """Recompute every fixture's output from its files alone; return the worst difference."""
    import numpy as np
    from safetensors.numpy import load_file

    worst = 0.0
    for jf in sorted((out / "conv").glob("*.json")) + sorted((out / "stack").glob("*.json")):
        cfg = json.loads(jf.read_text())
        base = jf.with_suffix("")
        weights = load_file(str(base) + ".safetensors")
        io = load_file(str(base) + ".io.safetensors")
        dims = cfg["dims"]
        x = io["input"].astype(np.float64)
        if dims == 1:
            x = x[:, :, None, :]
        if "layers" in cfg:
            layers = cfg["layers"]
        else:  # a single conv: weight names `weight` / `bias`
            layers = [dict(cfg, weight="weight", bias="bias", has_bias=cfg["bias"])]
        for layer in layers:
            w = weights[layer["weight"]].astype(np.float64)
            if dims == 1:
                w = w[:, :, None, :]
            has_bias = layer["has_bias"]
            b = weights[layer["bias"]].astype(np.float64) if has_bias else None
            assert has_bias == (layer["bias"] in weights), jf.name
            x = _np_conv(x, w, b, _as2d(layer["kernel"], dims), _as2d(layer["dilation"], dims),
                         _as2d(layer["stride"], dims), layer["groups"], layer["padding"])
            x = _np_act(x, layer["activation"])
        if dims == 1:
            x = x[:, :, 0, :]
        y = io["output"]
        assert list(y.shape) == cfg["output_shape"] == list(x.shape), jf.name
        diff = float(np.abs(x - y).max())
        assert diff < TOLERANCE / 10, (jf.name, diff)
        worst = max(worst, diff)
    return worst


def compare(a: Path, b: Path) -> list[str]:
    diffs = []
    for sub in ["conv", "stack", "."]:
        da, db = a / sub, b / sub
        fa = {p.name for p in da.iterdir() if p.is_file() and p.suffix != ".md"}
        fb = {p.name for p in db.iterdir() if p.is_file() and p.suffix != ".md"} if db.exists() else set()
        for n in sorted(fa ^ fb):
            diffs.append(f"{sub}/{n}: only in one tree")
        for n in sorted(fa & fb):
            if not filecmp.cmp(da / n, db / n, shallow=False):
                diffs.append(f"{sub}/{n}: differs")
    return diffs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "fixtures")
    ap.add_argument("--check", action="store_true",
                    help="regenerate into a temporary directory and compare with --out")
    args = ap.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp))
            diffs = compare(Path(tmp), args.out)
        worst = verify_numpy(args.out)
        print(f"NumPy re-check from the files alone: worst difference {worst:.2e}")
        for d in diffs:
            print(d, file=sys.stderr)
        print("fixtures reproduce bit for bit" if not diffs else f"{len(diffs)} differences")
        return 1 if diffs else 0
    generate(args.out)
    worst = verify_numpy(args.out)
    print(f"NumPy re-check from the files alone: worst difference {worst:.2e}")
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {len(CONV_CASES)} conv and {len(STACK_CASES)} stack cases to {args.out} "
          f"({total / 1024:.1f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
