#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Whole models side by side: every `examples/zoo.rs` entry against its own PyTorch twin.

For each entry of `cargo run --release --example zoo -- list` (or --entries), in the same
session and interleaved over --rounds rounds:
  - ours:     `zoo bench NAME --threads T --batch N` (seeded weights, forward_into after
              warm-up; its last line `median_ms=<f>`),
  - PyTorch:  the twin printed by `zoo twin NAME`, eager, `torch.inference_mode()`,
  - ONNX Runtime: the same twin exported with `torch.onnx.export` (TorchScript exporter,
              opset 17), ORT_ENABLE_ALL, intra-op threads T,
all at batch N on the twin's INPUT_SHAPE. Before the rounds it measures the FMA peak with
bench/peak and reads the CPU model (as bench/compare.py does); both head the table.

The model's nominal FLOPs are counted from the twin (2 x the multiply-adds of every
Conv1d/Conv2d and Linear, taps in the padding counted); the FLOP bound is that count at the
measured peak x threads. Target (issue 12): ours at least 1.2x faster than the faster of ONNX
Runtime and PyTorch, or at 80 % of the FLOP bound where 1.2x would ask for more.

Usage (the interpreter needs bench/peers/requirements.txt: torch, onnxruntime, onnx):
  .venv/bin/python bench/zoo.py                       # every entry, 1 and 2 threads
  .venv/bin/python bench/zoo.py --entries wavenet,tcn --rounds 5 --threads 1
  .venv/bin/python bench/zoo.py --peak 233            # skip the probe
"""
import argparse
import io
import os
import statistics
import subprocess
import sys
import time

import compare  # bench/compare.py: cpu_model, measure_peak, target_dir, run

ROOT = compare.ROOT
TARGET_RATIO = 1.2
BOUND_SHARE = 0.8


def zoo_bin(tdir):
    """Builds the zoo example (release) and returns its path."""
    if not compare.cargo_build(["--example", "zoo"], "the zoo example"):
        sys.exit("could not build the zoo example")
    return os.path.join(tdir, "release", "examples", "zoo")


def twin(zoo, name):
    """(a fresh twin in eval mode, INPUT_SHAPE) from `zoo twin NAME`."""
    src = compare.run([zoo, "twin", name])
    if not src:
        sys.exit(f"`zoo twin {name}` failed")
    ns = {"__name__": f"zoo_twin_{name}"}
    exec(compile(src, f"<twin {name}>", "exec"), ns)  # the generated module: imports only torch
    return ns["model"](), tuple(ns["INPUT_SHAPE"])


def nominal_flops(model, x):
    """2 x multiply-adds of every conv and linear layer in one forward of `x`."""
    import torch

    total = [0]

    def conv_hook(m, inp, out):
        k = 1
        for s in m.kernel_size:
            k *= s
        total[0] += 2 * out.numel() * (m.in_channels // m.groups) * k

    def linear_hook(m, inp, out):
        total[0] += 2 * out.numel() * m.in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d)):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    with torch.inference_mode():
        model(x)
    for h in hooks:
        h.remove()
    return total[0]


def median_ms(fn, min_time=0.3, trials=10):
    """Median wall time of `fn` in ms: warm-up, then `trials` samples of >= min_time/trials."""
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-6)
    reps = max(1, int(min_time / trials / one))
    samples = []
    for _ in range(trials):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        samples.append((time.perf_counter() - t0) / reps * 1e3)
    return statistics.median(samples)


def ours_ms(zoo, name, threads, batch):
    out = compare.run([zoo, "bench", name, "--threads", str(threads), "--batch", str(batch)])
    for line in reversed(out.splitlines()):
        if line.startswith("median_ms="):
            return float(line.split("=", 1)[1])
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", default="", help="comma-separated names (default: `zoo list`)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--peak", type=float, default=0.0,
                    help="FMA peak per core in GFLOP/s instead of running bench/peak")
    args = ap.parse_args()

    import numpy as np
    import onnxruntime as ort
    import torch

    tdir = compare.target_dir()
    zoo = zoo_bin(tdir)
    names = [n for n in (args.entries.split(",") if args.entries
                         else compare.run([zoo, "list"]).split()) if n]
    threads = [int(t) for t in args.threads.split(",") if t]
    peak = args.peak or compare.measure_peak(tdir, 0.5)
    cpu = compare.cpu_model()

    models = {}
    for n in names:
        m, shape = twin(zoo, n)
        x = torch.randn((args.batch,) + shape)
        buf = io.BytesIO()
        torch.onnx.export(m, (x,), buf, opset_version=17, dynamo=False,
                          input_names=["input"], output_names=["output"])
        models[n] = (m, x, buf.getvalue(), nominal_flops(m, x))

    results = {}  # (name, threads) -> {"ours": [..], "ort": [..], "torch": [..]}
    for r in range(args.rounds):
        for n in names:
            m, x, onnx_bytes, _ = models[n]
            for t in threads:
                cell = results.setdefault((n, t), {"ours": [], "ort": [], "torch": []})
                v = ours_ms(zoo, n, t, args.batch)
                if v is not None:
                    cell["ours"].append(v)
                so = ort.SessionOptions()
                so.intra_op_num_threads = t
                so.inter_op_num_threads = 1
                so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                sess = ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])
                xn = x.numpy().astype(np.float32)
                cell["ort"].append(median_ms(lambda: sess.run(None, {"input": xn})))
                torch.set_num_threads(t)
                with torch.inference_mode():
                    cell["torch"].append(median_ms(lambda: m(x)))
        print(f"# round {r + 1}/{args.rounds} done", file=sys.stderr)

    print(f"CPU: {cpu}; FMA peak {peak:.0f} GFLOP/s per core (bench/peak); batch {args.batch}; "
          f"median of {args.rounds} interleaved rounds; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print()
    print("| entry | GFLOP | thr | ONNX Runtime ms | PyTorch ms | ours ms | ours / faster peer"
          " | FLOP bound ms | ours % of bound | target |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in names:
        flops = models[n][3]
        for t in threads:
            c = results[(n, t)]
            if not c["ours"]:
                print(f"| {n} | | {t} | | | failed | | | | |")
                continue
            o, a, p = (statistics.median(c[k]) for k in ("ours", "ort", "torch"))
            best = min(a, p)
            bound = flops / (peak * 1e9 * t) * 1e3 if peak else float("nan")
            share = bound / o if peak else float("nan")
            met = best / o >= TARGET_RATIO or (peak and share >= BOUND_SHARE)
            print(f"| {n} | {flops / 1e9:.3f} | {t} | {a:.3f} | {p:.3f} | {o:.3f} | {best / o:.2f}x"
                  f" | {bound:.3f} | {share * 100:.0f} % | {'met' if met else 'not met'} |")


if __name__ == "__main__":
    main()
