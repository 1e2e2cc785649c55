#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Side-by-side benchmark: our engine against the peers, printed as the README's table.

Runs, interleaved and in the same session (a shared machine's absolute speed drifts), for
every shape of bench/shapes.json and every thread count:
  - ours:    dilated-core/examples/bench.rs (built here with `cargo build --release`),
  - Python:  bench/peers/bench_py.py (ONNX Runtime with and without NCHWc, PyTorch), run by
             the interpreter of --python, else $PYTHON, else `python3`,
  - Rust:    bench/peers/rs (candle, tract, burn-ndarray, burn-flex), built here into the
             cargo target directory (about 10 minutes the first time; --no-rs skips it).
Before the rounds it builds and runs the FMA-peak probe (bench/peak) and reads the CPU
model (/proc/cpuinfo, else lscpu), with its family and model numbers; both head the
table. Each round runs every engine once per (shape, threads); a cell is the median over
rounds of an engine's per-run median.

Each shape has a class (its `class` field, checked against the rule below), and a target
per thread count: min(ratio x best peer, 0.9 x peak per core x threads), with the ratios
  depthwise 2.0   (groups = in = out channels)
  small     1.25  (1D, or kernel 2, or at most 16 channels in and out)
  dense3x3  1.2   (2D, 3x3, stride 1: Winograd territory)
  dense     1.0   (the rest: kernel 5, strided stems, ...)
taking the first class that applies. The table says per shape whether ours meets it.

Usage (from anywhere; paths are the repository's):
  python3 bench/compare.py --python .venv/bin/python               # all shapes, 1 and 2 threads
  python3 bench/compare.py --rounds 3 --write                       # ... and update the docs
  python3 bench/compare.py --shapes S1,S3 --rounds 5 --no-rs
  python3 bench/compare.py --from-json run.json --write             # re-render a saved run
--write replaces, in README.md and docs/perf.md, the table of the CPU model it measured on
(between the `bench:begin cpu="..."` and `bench:end` comments) or adds one for a new CPU;
tables of other machines stay.
"""
import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
SHAPES_FILE = os.path.join(BENCH, "shapes.json")

# Ratio to the best peer each class must reach.
CLASS_RATIO = {"depthwise": 2.0, "small": 1.25, "dense3x3": 1.2, "dense": 1.0}
# A target never asks for more than this share of the measured FMA peak.
PEAK_SHARE = 0.9

# Files --write updates: the summary table in the README, both tables in docs/perf.md.
DOCS = {"README.md": False, os.path.join("docs", "perf.md"): True}
TABLES_BEGIN = "<!-- bench:tables -->"
TABLES_END = "<!-- bench:tables-end -->"
BLOCK = re.compile(r'<!-- bench:begin cpu="([^"]*)" -->\n.*?<!-- bench:end -->\n', re.S)


def class_of(s):
    """The class of a shape: the first of depthwise, small, dense3x3, dense that applies."""
    if s["groups"] > 1 and s["groups"] == s["cin"] == s["cout"]:
        return "depthwise"
    if s["dims"] == 1 or s["k"] == 2 or max(s["cin"], s["cout"]) <= 16:
        return "small"
    if s["k"] == 3 and s["stride"] == 1:
        return "dense3x3"
    return "dense"


def load_shapes(path):
    """The shapes of `path`, each checked: its class matches the rule, and its padding means
    the same to the peers (symmetric `pad`) and to our bench (`same`, PyTorch's split)."""
    with open(path) as f:
        shapes = json.load(f)["shapes"]
    for s in shapes:
        want = class_of(s)
        if s.get("class") != want:
            sys.exit(f"{path}: shape {s['id']} has class {s.get('class')!r}; the rule gives "
                     f"{want!r}")
        for d in s.get("stack_dils") or [s.get("dil", 1)]:
            if "pad" not in s and d * (s["k"] - 1) % 2:
                sys.exit(f"{path}: shape {s['id']}: dil*(k-1) = {d * (s['k'] - 1)} is odd, so "
                         "'same' padding is asymmetric; give an explicit \"pad\"")
    return shapes


def our_args(s, threads):
    """The bench command line of a shape."""
    common = ["--batch", str(s["n"]), "--in", str(s["cin"]), "--out", str(s["cout"]),
              "--kernel", str(s["k"]), "--threads", str(threads)]
    if "pad" in s:
        common += ["--padding", str(s["pad"])]
    size = str(s["w"]) if s["dims"] == 1 else f"{s['h']}x{s['w']}"
    if s.get("stack_dils"):
        return ["stack", "--size", size, "--rates", ",".join(map(str, s["stack_dils"])),
                "--stride", str(s["stride"]), "--groups", str(s["groups"])] + common
    mode = "conv1d" if s["dims"] == 1 else "conv2d"
    return [mode, "--size", size, "--dilation", str(s["dil"]), "--stride", str(s["stride"]),
            "--groups", str(s["groups"])] + common


LINE = re.compile(r"^(\S+)\s+(\d+)\s+(S\w+)\s+([\d.]+)\s+([\d.]+)")


def parse_peer_lines(text):
    """(peer, threads, shape, GFLOP/s) of every result line the peers print."""
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m and not line.startswith("#"):
            out.append((m.group(1), int(m.group(2)), m.group(3), float(m.group(4))))
    return out


def run(cmd, cwd=None):
    """The stdout of `cmd`, or "" (with its stderr shown) when it fails."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    except OSError as e:
        print(f"# failed: {shlex.join(cmd)}: {e}", file=sys.stderr)
        return ""
    if r.returncode != 0:
        print(f"# failed: {shlex.join(cmd)}\n{r.stderr[-2000:]}", file=sys.stderr)
        return ""
    return r.stdout


def cargo_build(args, what):
    """Runs `cargo build --release -q <args>` at the root; False (with a note) on failure."""
    r = subprocess.run(["cargo", "build", "--release", "-q"] + args, cwd=ROOT)
    if r.returncode != 0:
        print(f"# could not build {what}", file=sys.stderr)
    return r.returncode == 0


def target_dir():
    """The workspace's cargo target directory (CARGO_TARGET_DIR and cargo config respected)."""
    out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(out)["target_directory"]


def cpu_model():
    """The CPU model, from /proc/cpuinfo, else lscpu, with its family and model numbers when
    /proc/cpuinfo has them: brand strings alone do not tell micro-architectures apart (a
    cloud's "AMD EPYC" is a Zen 3 or a Zen 4), and each gets its own table."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    brand = next((fields[k] for k in ("model name", "Model name", "cpu model") if fields.get(k)),
                 None)
    if brand is None:
        for line in run(["lscpu"]).splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name" and value.strip():
                brand = value.strip()
                break
    if brand is None:
        return "unknown CPU"
    if fields.get("cpu family") and fields.get("model"):
        return f"{brand} (family {fields['cpu family']} model {fields['model']})"
    return brand


def measure_peak(tdir, secs):
    """The probe's single-core FMA peak (GFLOP/s, best instruction set), or None."""
    if not cargo_build(["--manifest-path", os.path.join(BENCH, "peak", "Cargo.toml"),
                        "--target-dir", os.path.join(tdir, "peak")], "the FMA-peak probe"):
        return None
    text = run([os.path.join(tdir, "peak", "release", "peak"), str(secs)])
    best = None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 5 and not line.startswith("#") and parts[1] == "1":
            g = float(parts[2])
            best = g if best is None else max(best, g)
    return best


def measure(args, shapes, threads):
    """Runs the rounds; returns the meta data and the raw per-run results."""
    tdir = target_dir()
    py = args.python or os.environ.get("PYTHON") or "python3"
    if not args.no_py:
        probe = subprocess.run([py, "-c", "import numpy, onnx, onnxruntime"],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            sys.exit(f"{py} cannot import the Python peers ({probe.stderr.strip()[-300:]}); "
                     "set them up as bench/README.md says and pass --python or $PYTHON, "
                     "or run with --no-py")
    if not cargo_build(["-p", "dilated-core", "--example", "bench"], "our bench"):
        sys.exit(2)
    ours_bin = os.path.join(tdir, "release", "examples", "bench")
    rs_bin = args.rs_bin
    if not args.no_rs and not rs_bin:
        if cargo_build(["--manifest-path", os.path.join(BENCH, "peers", "rs", "Cargo.toml"),
                        "--target-dir", os.path.join(tdir, "peers-rs")], "the Rust peers"):
            rs_bin = os.path.join(tdir, "peers-rs", "release", "peers-rs")
    use_rs = not args.no_rs and rs_bin and os.path.exists(rs_bin)
    if not args.no_rs and not use_rs:
        print("# continuing without the Rust peers", file=sys.stderr)

    if args.peak:
        peak, peak_how = args.peak, "given with --peak, not measured"
    else:
        peak, peak_how = measure_peak(tdir, args.peak_secs), "measured by bench/peak"
        if peak is None:
            print("# no FMA peak measured: targets without the cap", file=sys.stderr)
    meta = {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "peak": peak,
        "peak_how": peak_how,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rounds": args.rounds,
        "threads": threads,
        "command": recorded_command(args),
        "kernel": None,
    }
    print(f"# {meta['cpu']}, FMA peak {peak} GFLOP/s per core ({peak_how})", file=sys.stderr)

    raw = []
    for rnd in range(args.rounds):
        for s in shapes:
            sid = s["id"]
            for t in threads:
                out = run([ours_bin] + our_args(s, t))
                lines = out.strip().splitlines()
                m = re.search(r"gflops=([\d.]+)", lines[-1] if lines else "")
                if m:
                    raw.append({"engine": "ours", "threads": t, "shape": sid,
                                "gflops": float(m.group(1))})
                if args.tune:
                    out_t = run([ours_bin] + our_args(s, t) + ["--tune"])
                    lines_t = out_t.strip().splitlines()
                    m = re.search(r"gflops=([\d.]+)", lines_t[-1] if lines_t else "")
                    if m:
                        raw.append({"engine": "ours_tuned", "threads": t, "shape": sid,
                                    "gflops": float(m.group(1))})
                k = re.search(r"kernel=(\S+)", out)
                if k and not meta["kernel"]:
                    meta["kernel"] = k.group(1)
                if use_rs:
                    for peer, pt, psid, g in parse_peer_lines(run(
                            [rs_bin, "--threads", str(t), "--shapes", sid,
                             "--shapes-file", args.shapes_file, "--check", "none"])):
                        raw.append({"engine": peer, "threads": pt, "shape": psid, "gflops": g})
            if not args.no_py:
                text = run([py, os.path.join(BENCH, "peers", "bench_py.py"),
                            "--threads", ",".join(map(str, threads)), "--shapes", sid,
                            "--shapes-file", args.shapes_file])
                for peer, pt, psid, g in parse_peer_lines(text):
                    raw.append({"engine": peer, "threads": pt, "shape": psid, "gflops": g})
        print(f"# round {rnd + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    return meta, raw


def recorded_command(args):
    """The command line to quote under the table: the options that shape the measurement
    (no local paths)."""
    cmd = ["python3", "bench/compare.py", "--rounds", str(args.rounds)]
    if args.threads != "1,2":
        cmd += ["--threads", args.threads]
    if args.shapes:
        cmd += ["--shapes", args.shapes]
    for flag in ("no_rs", "no_py", "tune"):
        if getattr(args, flag):
            cmd.append("--" + flag.replace("_", "-"))
    return " ".join(cmd)


def fmt(v, digits=0):
    return "–" if v is None else f"{v:.{digits}f}"


def render(meta, raw, shapes, full):
    """The markdown block of one machine: heading, summary table, and with `full` every
    engine's figures."""
    threads = meta["threads"]
    per = {}
    for r in raw:
        per.setdefault((r["engine"], r["threads"], r["shape"]), []).append(r["gflops"])
    med = {k: statistics.median(v) for k, v in per.items()}
    peak = meta["peak"]
    kernel = f", our kernel family {meta['kernel']}" if meta.get("kernel") else ""
    peak_text = (f"FMA peak {peak:.0f} GFLOP/s per core ({meta['peak_how']})"
                 if peak else "FMA peak not measured")
    lines = [
        f"#### {meta['cpu']}: {peak_text}",
        "",
        f"Measured {meta['date']}, {meta['cpus']} CPUs{kernel}, median of {meta['rounds']} "
        "interleaved rounds, GFLOP/s (nominal: the direct convolution's multiply-adds, taps "
        f"in the padding counted). Command: `{meta['command']}`. Target per thread count: "
        f"min(ratio × best peer, {PEAK_SHARE} × peak × threads), ratios "
        + ", ".join(f"{c} {r}" for c, r in CLASS_RATIO.items()) + ".",
        "",
    ]
    head = ["shape", "what", "class"]
    for col in ("best peer", "ours", "ratio", "target"):
        head += [f"{col} {t} thr" if i == 0 else f"{t} thr" for i, t in enumerate(threads)]
    head.append("met")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for s in shapes:
        sid, cls = s["id"], s["class"]
        best, ours, ratio, target, ok = {}, {}, {}, {}, []
        for t in threads:
            peers = {e: g for (e, tt, ss), g in med.items()
                     if tt == t and ss == sid and e not in ("ours", "ours_tuned")}
            ours[t] = med.get(("ours", t, sid))
            if peers:
                name = max(peers, key=peers.get)
                best[t] = (name, peers[name])
                need = CLASS_RATIO[cls] * peers[name]
                if peak:
                    need = min(need, PEAK_SHARE * peak * t)
                target[t] = need
                if ours[t] is not None:
                    ratio[t] = ours[t] / peers[name]
                    ok.append(ours[t] >= need)
        cells = [sid, s["desc"], cls]
        cells += [f"{best[t][1]:.0f} ({best[t][0]})" if t in best else "–" for t in threads]
        cells += [fmt(ours[t]) for t in threads]
        cells += [f"{ratio[t]:.2f}×" if t in ratio else "–" for t in threads]
        cells += [fmt(target.get(t)) for t in threads]
        cells.append(("yes" if all(ok) else "no") if len(ok) == len(threads) else "–")
        lines.append("| " + " | ".join(cells) + " |")
    if full:
        engines = sorted({e for (e, _, _) in med})
        lines += ["", "All engines (median GFLOP/s):", "",
                  "| shape | threads | " + " | ".join(engines) + " |",
                  "|---|---|" + "---|" * len(engines)]
        for s in shapes:
            for t in threads:
                cells = [fmt(med.get((e, t, s["id"])), 1) for e in engines]
                lines.append(f"| {s['id']} | {t} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_block(path, cpu, body):
    """Puts `body` in `path` as the block of `cpu`: in place of that CPU's block, else first
    after the tables marker."""
    with open(path) as f:
        text = f.read()
    start, end = text.find(TABLES_BEGIN), text.find(TABLES_END)
    if start < 0 or end < start:
        sys.exit(f"{path}: no {TABLES_BEGIN} … {TABLES_END} markers")
    block = f'<!-- bench:begin cpu="{cpu.replace(chr(34), chr(39))}" -->\n{body}<!-- bench:end -->\n'
    region = text[start + len(TABLES_BEGIN):end]
    for m in BLOCK.finditer(region):
        if m.group(1) == cpu.replace('"', "'"):
            region = region[:m.start()] + block + region[m.end():]
            break
    else:
        region = "\n" + block + "\n" + region.lstrip("\n")
    with open(path, "w") as f:
        f.write(text[:start + len(TABLES_BEGIN)] + region + text[end:])
    print(f"# updated {os.path.relpath(path, ROOT)}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="", help="comma-separated ids (default: all)")
    ap.add_argument("--shapes-file", default=SHAPES_FILE, help="default: bench/shapes.json")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--python", default="",
                    help="interpreter with bench/peers/requirements.txt ($PYTHON, python3)")
    ap.add_argument("--rs-bin", default="", help="a built peers-rs (default: build it)")
    ap.add_argument("--no-rs", action="store_true", help="without the Rust peers")
    ap.add_argument("--no-py", action="store_true", help="without the Python peers")
    ap.add_argument("--peak", type=float, default=0.0,
                    help="FMA peak per core in GFLOP/s instead of running bench/peak")
    ap.add_argument("--peak-secs", type=float, default=0.5, help="seconds per probe trial")
    ap.add_argument("--tune", action="store_true",
                    help="also run ours with --tune (Network::tuned), as engine ours_tuned")
    ap.add_argument("--json", default="", help="also write the raw results to this file")
    ap.add_argument("--from-json", default="", help="render a saved run instead of measuring")
    ap.add_argument("--write", action="store_true",
                    help="update this CPU's table in README.md and docs/perf.md")
    args = ap.parse_args()
    args.shapes_file = os.path.abspath(args.shapes_file)

    shapes = load_shapes(args.shapes_file)
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        meta, raw = saved["meta"], saved["runs"]
        ids = {r["shape"] for r in raw}
        shapes = [s for s in shapes if s["id"] in ids]
    else:
        if args.shapes:
            want = set(args.shapes.split(","))
            unknown = want - {s["id"] for s in shapes}
            if unknown:
                sys.exit(f"unknown shapes: {', '.join(sorted(unknown))}")
            shapes = [s for s in shapes if s["id"] in want]
        threads = [int(t) for t in args.threads.split(",") if t]
        meta, raw = measure(args, shapes, threads)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"meta": meta, "runs": raw}, f, indent=1)

    print(render(meta, raw, shapes, full=True))
    if args.write:
        for doc, full in DOCS.items():
            write_block(os.path.join(ROOT, doc), meta["cpu"], render(meta, raw, shapes, full))


if __name__ == "__main__":
    main()
