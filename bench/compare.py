#!/usr/bin/env python3
"""Side-by-side benchmark: our engine against the peers, printed as the README's table.

Runs, interleaved and in the same session (the machine is shared and its absolute speed
drifts), for every shape of ../shared/peers/shapes.json and every thread count:
  - ours:      dilated-core/examples/bench.rs (built with `cargo build --release`),
  - Python:    ../shared/peers/bench_py.py (ONNX Runtime with and without NCHWc, PyTorch),
  - Rust:      ../shared/peers/rs (candle, tract, burn-ndarray, burn-flex), if built.
Each round runs every engine once per (shape, threads); the table reports, per engine, the
median over rounds of the per-run medians, and the ratio of ours to the best peer.

Usage (from the repository root):
  /tmp/peers/bin/python scripts/bench_compare.py                 # all shapes, 1 and 2 threads
  /tmp/peers/bin/python scripts/bench_compare.py --shapes S1,S3 --rounds 5
  options: --threads 1,2  --rounds 3  --peers-dir ../shared/peers  --rs-bin PATH
           --no-rs  --no-py  --json FILE (raw per-run results)

Targets (issue 3): depthwise ≥ 2×, 1D or ≤ 16 channels ≥ 1.25×, dense ≥ 0.95× the best
peer, each capped at 90 % of the nominal FMA peak (104 GFLOP/s per thread).
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEAK_PER_THREAD = 116.0
CAP = 0.9 * PEAK_PER_THREAD


def our_args(s, threads):
    """The bench command line of a shape (SPEC's interface)."""
    common = ["--batch", str(s["n"]), "--in", str(s["cin"]), "--out", str(s["cout"]),
              "--kernel", str(s["k"]), "--threads", str(threads)]
    if "pad" in s:
        common += ["--padding", str(s["pad"])]
    if s.get("stack_dils"):
        return ["stack", "--size", f"{s['h']}x{s['w']}",
                "--rates", ",".join(map(str, s["stack_dils"]))] + common
    mode = "conv1d" if s["dims"] == 1 else "conv2d"
    size = str(s["w"]) if s["dims"] == 1 else f"{s['h']}x{s['w']}"
    return [mode, "--size", size, "--dilation", str(s["dil"]), "--stride", str(s["stride"]),
            "--groups", str(s["groups"])] + common


def target_of(s):
    if s["groups"] > 1 and s["groups"] == s["cin"] == s["cout"]:
        return "depthwise", 2.0
    if s["dims"] == 1 or min(s["cin"], s["cout"]) <= 16:
        return "1D / few channels", 1.25
    return "dense", 0.95


LINE = re.compile(r"^(\S+)\s+(\d+)\s+(S\w+)\s+([\d.]+)\s+([\d.]+)")


def parse_peer_lines(text):
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m and not line.startswith("#"):
            out.append((m.group(1), int(m.group(2)), m.group(3), float(m.group(4))))
    return out


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        print(f"# failed: {' '.join(cmd)}\n{r.stderr[-2000:]}", file=sys.stderr)
        return ""
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--shapes", default="")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--peers-dir", default=os.path.join(ROOT, "..", "shared", "peers"))
    ap.add_argument("--rs-bin", default="/tmp/peers-rs/release/peers-rs")
    ap.add_argument("--no-rs", action="store_true")
    ap.add_argument("--no-py", action="store_true")
    ap.add_argument("--json", default="")
    args = ap.parse_args()

    with open(os.path.join(args.peers_dir, "shapes.json")) as f:
        shapes = json.load(f)["shapes"]
    if args.shapes:
        want = set(args.shapes.split(","))
        shapes = [s for s in shapes if s["id"] in want]
    threads = [int(t) for t in args.threads.split(",") if t]

    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "dilated-core", "--example",
                    "bench"], cwd=ROOT, check=True)
    ours_bin = os.path.join(target_dir, "release", "examples", "bench")
    use_rs = not args.no_rs and os.path.exists(args.rs_bin)
    if not args.no_rs and not use_rs:
        print(f"# Rust peers not built ({args.rs_bin}); see ../shared/peers/README.md",
              file=sys.stderr)

    results = {}  # (engine, threads, shape) -> [gflops per round]
    raw = []

    def add(engine, t, sid, g):
        results.setdefault((engine, t, sid), []).append(g)
        raw.append({"engine": engine, "threads": t, "shape": sid, "gflops": g})

    for rnd in range(args.rounds):
        for s in shapes:
            sid = s["id"]
            for t in threads:
                out = run([ours_bin] + our_args(s, t))
                m = re.search(r"gflops=([\d.]+)", out.strip().splitlines()[-1] if out else "")
                if m:
                    add("ours", t, sid, float(m.group(1)))
                if use_rs:
                    for peer, pt, psid, g in parse_peer_lines(run(
                            [args.rs_bin, "--threads", str(t), "--shapes", sid,
                             "--check", "none"])):
                        add(peer, pt, psid, g)
            if not args.no_py:
                text = run([sys.executable, os.path.join(args.peers_dir, "bench_py.py"),
                            "--threads", ",".join(map(str, threads)), "--shapes", sid])
                for peer, pt, psid, g in parse_peer_lines(text):
                    add(peer, pt, psid, g)
        print(f"# round {rnd + 1}/{args.rounds} done", file=sys.stderr, flush=True)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1)

    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on {platform.node()} "
          f"({os.cpu_count()} CPUs), {args.rounds} interleaved rounds, median GFLOP/s "
          "(nominal: taps in the padding counted).\n")
    head = "| shape | what | best peer 1 thr | 2 thr | ours 1 thr | 2 thr | ratio 1 thr | 2 thr | target |"
    if threads != [1, 2]:
        head = "| shape | what | " + " | ".join(
            f"best peer {t} thr | ours {t} thr | ratio {t} thr" for t in threads) + " | target |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for s in shapes:
        sid = s["id"]
        cls, factor = target_of(s)
        best, ours, ratio, ok = {}, {}, {}, []
        for t in threads:
            peers = {e: g for (e, tt, ss), g in med.items() if tt == t and ss == sid and e != "ours"}
            if peers:
                name = max(peers, key=peers.get)
                best[t] = (name, peers[name])
            ours[t] = med.get(("ours", t, sid))
            if t in best and ours[t]:
                ratio[t] = ours[t] / best[t][1]
                need = min(factor * best[t][1], CAP * t)
                ok.append(ours[t] >= need)
        fmt_best = lambda t: f"{best[t][1]:.0f} ({best[t][0]})" if t in best else "–"
        fmt_ours = lambda t: f"{ours[t]:.0f}" if ours.get(t) else "–"
        fmt_ratio = lambda t: f"{ratio[t]:.2f}×" if t in ratio else "–"
        verdict = "met" if ok and all(ok) else ("not met" if ok else "–")
        tgt = f"{cls} ≥ {factor}× (cap {CAP:.0f}/thr): {verdict}"
        if threads == [1, 2]:
            cells = [fmt_best(1), fmt_best(2), fmt_ours(1), fmt_ours(2), fmt_ratio(1), fmt_ratio(2)]
        else:
            cells = [c for t in threads for c in (fmt_best(t), fmt_ours(t), fmt_ratio(t))]
        print(f"| {sid} | {s['desc']} | " + " | ".join(cells) + f" | {tgt} |")
    print("\nAll engines (median GFLOP/s):\n")
    engines = sorted({e for (e, _, _) in med})
    print("| shape | threads | " + " | ".join(engines) + " |")
    print("|---|---|" + "---|" * len(engines))
    for s in shapes:
        for t in threads:
            cells = [f"{med[(e, t, s['id'])]:.1f}" if (e, t, s["id"]) in med else "–"
                     for e in engines]
            print(f"| {s['id']} | {t} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
