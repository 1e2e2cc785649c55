#!/usr/bin/env python3
"""Train the example segmentation networks: an HDC stack and its gridding twin.

Regenerate (bit-identical on the same machine kind with the pinned versions; run from the
repository root, about two minutes per network on one CPU thread):

    python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements.txt
    .venv/bin/python scripts/train_seg.py

Data: scikit-image's `coins()` sample image (ships inside the scikit-image wheel, nothing is
downloaded). Label: the classical procedure of scikit-image's "Comparing edge-based and
region-based segmentation" tutorial — Sobel elevation map, watershed from markers
(pixels < 30 background, > 150 coin), holes filled — then objects under 64 pixels removed.
A 128x128 crop (rows 150..278, columns 256..384) is held out for testing; training crops
never overlap it.

Networks (PyTorch `nn.Sequential`, saved with `safetensors.torch.save_file(state_dict)`):

    conv(1 -> 16, k3, rate r1, same), relu,
    conv(16 -> 16, k3, rate r2, same), relu,
    ... six dilated convs, each followed by ReLU ...
    conv(16 -> 1, k1)                      # logits, no activation

with rates [1, 2, 5, 1, 2, 5] (HDC, no holes) and [2, 4, 8, 2, 4, 8] (gridding: every odd
offset is a hole). Both are trained identically (same seed, crops, steps).

Writes:
    examples/data/seg_hdc.safetensors        weights, keys 0.weight … 12.bias
    examples/data/seg_gridding.safetensors
    examples/data/seg_test.safetensors       the test crop, its label and both nets' logits
    docs/masks.png                           input, label, both masks (and logits)
    docs/training.md                         the measured statistics
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from scipy import ndimage as ndi
from skimage import data, filters, morphology, segmentation
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "data"
DOCS = ROOT / "docs"

SEED = 20260
CHANNELS = 16
KERNEL = 3
NETS = {
    "hdc": [1, 2, 5, 1, 2, 5],
    "gridding": [2, 4, 8, 2, 4, 8],
}
TEST_ROWS = (150, 278)
TEST_COLS = (256, 384)
CROP = 64
BATCH = 8
STEPS = 600
LR = 3e-3
# Label smoothing: targets 0.05 / 0.95. It bounds the logits (about ±3 at the optimum instead
# of growing without limit), which keeps float32 rounding differences between PyTorch and
# another implementation far below the 1e-4 the Rust example asserts.
SMOOTH = 0.1
# Input normalisation: x = (pixel - 128) / 64, pixel in 0..255 (u8).
NORM_SUB = 128.0
NORM_DIV = 64.0
# Top-left corner of the 32x32 window of the logits shown enlarged in docs/masks.png.
ZOOM = (48, 96)


def coins_and_label() -> tuple[np.ndarray, np.ndarray]:
    """The coins image (u8, 303x384) and its binary coin mask (u8 0/1)."""
    img = data.coins()
    elevation = filters.sobel(img)
    markers = np.zeros_like(img)
    markers[img < 30] = 1
    markers[img > 150] = 2
    seg = segmentation.watershed(elevation, markers)
    mask = ndi.binary_fill_holes(seg == 2)
    mask = morphology.remove_small_objects(mask, max_size=63)
    return img, mask.astype(np.uint8)


def normalise(img_u8: np.ndarray) -> np.ndarray:
    return ((img_u8.astype(np.float32) - NORM_SUB) / NORM_DIV).astype(np.float32)


def build_net(rates: list[int]) -> nn.Sequential:
    mods: list[nn.Module] = []
    c = 1
    for r in rates:
        mods += [nn.Conv2d(c, CHANNELS, KERNEL, dilation=r, padding="same"), nn.ReLU()]
        c = CHANNELS
    mods.append(nn.Conv2d(CHANNELS, 1, 1))
    return nn.Sequential(*mods)


def overlaps_test(r: int, c: int) -> bool:
    return r < TEST_ROWS[1] and r + CROP > TEST_ROWS[0] and c < TEST_COLS[1] and c + CROP > TEST_COLS[0]


def training_crops(img: np.ndarray, mask: np.ndarray, rng: np.random.Generator):
    """An endless stream of (x, y) batches: random crops off the test region, random flips
    and quarter turns."""
    h, w = img.shape
    x_all = normalise(img)
    while True:
        xs, ys = [], []
        while len(xs) < BATCH:
            r = int(rng.integers(0, h - CROP + 1))
            c = int(rng.integers(0, w - CROP + 1))
            if overlaps_test(r, c):
                continue
            xc = x_all[r:r + CROP, c:c + CROP]
            yc = mask[r:r + CROP, c:c + CROP]
            k = int(rng.integers(0, 4))
            xc, yc = np.rot90(xc, k), np.rot90(yc, k)
            if rng.integers(0, 2):
                xc, yc = xc[:, ::-1], yc[:, ::-1]
            xs.append(np.ascontiguousarray(xc))
            ys.append(np.ascontiguousarray(yc))
        yield (torch.from_numpy(np.stack(xs)[:, None]),
               torch.from_numpy(np.stack(ys)[:, None].astype(np.float32)))


def train(name: str, rates: list[int], img: np.ndarray, mask: np.ndarray) -> tuple[nn.Sequential, dict]:
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    net = build_net(rates)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, STEPS)
    loss_fn = nn.BCEWithLogitsLoss()
    batches = training_crops(img, mask, rng)
    t0 = time.perf_counter()
    losses = []
    for step in range(STEPS):
        x, y = next(batches)
        loss = loss_fn(net(x), y * (1.0 - SMOOTH) + SMOOTH / 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if step % 100 == 0 or step == STEPS - 1:
            print(f"  [{name}] step {step:4d}  loss {np.mean(losses[-50:]):.4f}", flush=True)
    # Printed, not stored: the written files stay bit-identical from run to run.
    print(f"  [{name}] trained in {time.perf_counter() - t0:.1f} s", flush=True)
    net.eval()
    return net, {"final_loss": float(np.mean(losses[-50:]))}


def logits_of(net: nn.Sequential, img_u8: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        x = torch.from_numpy(normalise(img_u8))[None, None]
        return net(x)[0, 0].numpy()


def f64_max_abs_diff(net: nn.Sequential, img_u8: np.ndarray, y32: np.ndarray) -> float:
    """How far PyTorch's float32 logits are from the same network run in float64."""
    net64 = copy.deepcopy(net).double()
    with torch.no_grad():
        x = torch.from_numpy(normalise(img_u8)).double()[None, None]
        y64 = net64(x)[0, 0].numpy()
    return float(np.abs(y64 - y32.astype(np.float64)).max())


def mask_stats(logits: np.ndarray, label: np.ndarray) -> dict:
    pred = logits > 0
    lab = label.astype(bool)
    inter = np.logical_and(pred, lab).sum()
    union = np.logical_or(pred, lab).sum()
    return {
        "accuracy": float((pred == lab).mean()),
        "iou": float(inter / union) if union else 1.0,
    }


def checkerboard_energy(logits: np.ndarray) -> float:
    """Energy of the 2x2 checkerboard filter [[1, -1], [-1, 1]] / 4 over every 2x2 window,
    divided by the variance of the logits. 0 for a smooth map, 0.25 for white noise, 1 for a
    pure +-1 checkerboard."""
    z = logits.astype(np.float64)
    d = (z[:-1, :-1] - z[:-1, 1:] - z[1:, :-1] + z[1:, 1:]) / 4.0
    var = z.var()
    return float((d ** 2).mean() / var) if var > 0 else 0.0


def _power(logits: np.ndarray):
    """2D power spectrum of the logits (mean removed, cropped to even sizes so that the
    period-2 frequency 1/2 is a bin), with |f| per axis in cycles per pixel."""
    z = logits[: logits.shape[0] // 2 * 2, : logits.shape[1] // 2 * 2].astype(np.float64)
    z = z - z.mean()
    p = np.abs(np.fft.fft2(z)) ** 2
    fy = np.abs(np.fft.fftfreq(z.shape[0]))[:, None]
    fx = np.abs(np.fft.fftfreq(z.shape[1]))[None, :]
    return p, fy, fx


def period2_share(logits: np.ndarray) -> float:
    """Share of the logits' power at exactly period 2 along either axis (the DFT's Nyquist row
    and column: row or column stripes of period 2 and the checkerboard) — the patterns a
    schedule whose rates are all even leaves, since it processes the four pixel parities
    independently."""
    p, fy, fx = _power(logits)
    total = p.sum()
    return float(p[(fy == 0.5) | (fx == 0.5)].sum() / total) if total > 0 else 0.0


def nyquist_share(logits: np.ndarray) -> float:
    """Share of the logits' power in the outer frequency band: |f| > 3/8 cycle per pixel on
    either axis (period-2 patterns sit at 1/2; sharp edges also put some power there)."""
    p, fy, fx = _power(logits)
    total = p.sum()
    return float(p[(fy > 0.375) | (fx > 0.375)].sum() / total) if total > 0 else 0.0


def save_picture(path: Path, crop: np.ndarray, label: np.ndarray, logits: dict, stats: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "dilated"
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(13, 7.4), dpi=80)
    for ax in axes.flat:
        ax.set_axis_off()
    axes[0, 0].imshow(crop, cmap="gray", vmin=0, vmax=255)
    axes[0, 0].set_title("input (held-out crop)")
    axes[0, 1].imshow(label, cmap="gray", vmin=0, vmax=1)
    axes[0, 1].set_title("label (watershed)")
    for j, name in enumerate(NETS):
        s = stats[name]["test"]
        axes[0, 2 + j].imshow(logits[name] > 0, cmap="gray", vmin=0, vmax=1)
        axes[0, 2 + j].set_title(f"{name} {NETS[name]}\nacc {s['accuracy']:.3f}  IoU {s['iou']:.3f}",
                                 fontsize=9)
        lim = float(np.abs(logits[name]).max())
        axes[1, 2 + j].imshow(logits[name], cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[1, 2 + j].set_title(f"{name} logits\ncheckerboard energy {s['checkerboard_energy']:.2e}, "
                                 f"period-2 share {s['period2_share']:.2e}",
                                 fontsize=9)
    # Zoom on a 32x32 window of each net's logits, where period-2 patterns show.
    for j, name in enumerate(NETS):
        z = logits[name][ZOOM[0]:ZOOM[0] + 32, ZOOM[1]:ZOOM[1] + 32]
        lim = float(np.abs(z).max())
        axes[1, j].imshow(z, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        axes[1, j].set_title(f"{name} logits, zoom rows {ZOOM[0]}..{ZOOM[0] + 32}, "
                             f"cols {ZOOM[1]}..{ZOOM[1] + 32}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def write_training_md(path: Path, stats: dict, meta: dict) -> None:
    rows = []
    for name, rates in NETS.items():
        s = stats[name]
        for where in ("test", "full"):
            m = s[where]
            rows.append(
                f"| {name} | `{rates}` | {s['receptive_field']} | {where} | {m['accuracy']:.4f} | "
                f"{m['iou']:.4f} | {m['checkerboard_energy']:.3e} | {m['period2_share']:.3e} | "
                f"{m['nyquist_share']:.3e} |")
    text = f"""# Training the example segmentation networks

Command (from the repository root; the environment is `scripts/requirements.txt`):

    .venv/bin/python scripts/train_seg.py

It trains two networks that differ only in their dilation rates, on scikit-image's `coins()`
sample image, and writes `examples/data/` (weights, test crop, PyTorch's logits),
`docs/masks.png` and this file. One CPU thread, seeded: rerunning it on the same machine kind
with the pinned versions reproduces every file bit for bit.

## Data

- Image: `skimage.data.coins()`, 303×384 grayscale, shipped inside the scikit-image wheel.
- Label: a coin mask made by a classical procedure (scikit-image's "Comparing edge-based and
  region-based segmentation" tutorial): Sobel elevation map, watershed from markers
  (pixel < 30 → background, > 150 → coin), holes filled, objects under 64 pixels removed.
  Coin pixels: {meta['coin_fraction']:.1%} of the image.
- Input: `x = (pixel − {NORM_SUB:g}) / {NORM_DIV:g}`, one channel.
- Held out: the 128×128 crop at rows {TEST_ROWS[0]}..{TEST_ROWS[1]}, columns
  {TEST_COLS[0]}..{TEST_COLS[1]}. Training samples random {CROP}×{CROP} crops that do not
  overlap it, with random quarter turns and flips.

## Networks

`nn.Sequential`: six `Conv2d(k={KERNEL}, padding='same')` layers (1 → {CHANNELS}, then
{CHANNELS} → {CHANNELS}), each followed by ReLU, then a 1×1 `Conv2d({CHANNELS} → 1)` giving
logits (no activation after it). The two networks differ only in the rates; the declaration
for `dilated_stack!` is in `examples/data/README.md`.

Training: Adam, learning rate {LR:g} with cosine decay, {STEPS} steps of {BATCH} crops,
binary cross-entropy on the logits against label-smoothed targets
({SMOOTH / 2:g} / {1 - SMOOTH / 2:g}, which bounds the logits); the same seed, crops and order for both networks.

## Results (as measured)

Each statistic is measured on the held-out 128×128 crop ("test") and on the whole 303×384
image ("full", which includes the training region). Accuracy and IoU compare the mask
`logit > 0` with the label; the three last columns measure period-2 artefacts in the logits
(all three are reported, whichever way each comes out).

| net | rates | receptive field | on | accuracy | IoU | checkerboard energy | period-2 share | high-frequency share |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

- **Checkerboard energy**: the mean square of the 2×2 filter `[[1, −1], [−1, 1]] / 4` over
  every 2×2 window of the logits, divided by the logits' variance. 0 for a smooth map, 0.25
  for white noise, 1 for a pure ±1 checkerboard. Being local, it also responds to sharp
  edges that are not axis-aligned (the coins' outlines), not only to period-2 patterns.
- **Period-2 share**: the share of the logits' power (mean removed; maps cropped to even
  sizes) at exactly period 2 along either axis — the DFT's Nyquist row and column, which hold
  row stripes, column stripes and the checkerboard. A schedule whose rates are all even
  processes the four pixel parities independently, and its artefacts land there.
- **High-frequency share**: the share of the logits' power at frequencies above 3/8 cycle
  per pixel on either axis (period-2 patterns and the sharpest edges).

![input, label, both masks, logits](masks.png)

`docs/masks.png`, top row: the held-out input crop, its label, the HDC net's mask, the
gridding net's mask. Bottom row: a 32×32 window of each net's logits (rows {ZOOM[0]}..{ZOOM[0] + 32},
columns {ZOOM[1]}..{ZOOM[1] + 32} of the crop), then both nets' logits over the whole crop
(red: coin, blue: background).

Final training loss (mean of the last 50 steps): hdc {stats['hdc']['final_loss']:.4f},
gridding {stats['gridding']['final_loss']:.4f}.

{meta['verdict']}
"""
    path.write_text(text)


def receptive_field(rates: list[int]) -> int:
    return 1 + sum((KERNEL - 1) * r for r in rates)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=STEPS, help="training steps (default %(default)s)")
    args = ap.parse_args()
    globals()["STEPS"] = args.steps

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    DATA.mkdir(parents=True, exist_ok=True)
    DOCS.mkdir(parents=True, exist_ok=True)

    img, mask = coins_and_label()
    r0, r1 = TEST_ROWS
    c0, c1 = TEST_COLS
    crop, crop_label = img[r0:r1, c0:c1].copy(), mask[r0:r1, c0:c1].copy()

    nets, stats, logits = {}, {}, {}
    for name, rates in NETS.items():
        print(f"training {name} {rates}", flush=True)
        net, info = train(name, rates, img, mask)
        nets[name] = net
        logits[name] = logits_of(net, crop)
        full = logits_of(net, img)
        stats[name] = {
            **info,
            "rates": rates,
            "receptive_field": receptive_field(rates),
            "logits_abs_max": float(np.abs(logits[name]).max()),
            "f64_max_abs_diff": f64_max_abs_diff(net, crop, logits[name]),
            "test": {**mask_stats(logits[name], crop_label),
                     "checkerboard_energy": checkerboard_energy(logits[name]),
                     "period2_share": period2_share(logits[name]),
                     "nyquist_share": nyquist_share(logits[name])},
            "full": {**mask_stats(full, mask),
                     "checkerboard_energy": checkerboard_energy(full),
                     "period2_share": period2_share(full),
                     "nyquist_share": nyquist_share(full)},
        }
        state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
        save_file(state, str(DATA / f"seg_{name}.safetensors"))

    save_file({
        "image": torch.from_numpy(crop),                                   # u8 [128, 128]
        "label": torch.from_numpy(crop_label),                             # u8 [128, 128], 0/1
        "input": torch.from_numpy(normalise(crop))[None, None].contiguous(),  # f32 [1,1,128,128]
        "logits_hdc": torch.from_numpy(logits["hdc"])[None, None].contiguous(),
        "logits_gridding": torch.from_numpy(logits["gridding"])[None, None].contiguous(),
    }, str(DATA / "seg_test.safetensors"))

    h, g = stats["hdc"]["test"], stats["gridding"]["test"]
    better = lambda a, b: "higher" if a > b else ("lower" if a < b else "equal")  # noqa: E731
    verdict = (
        f"On the held-out crop, the HDC net's IoU is {better(h['iou'], g['iou'])} than the "
        f"gridding net's ({h['iou']:.4f} vs {g['iou']:.4f}); its checkerboard energy is "
        f"{better(h['checkerboard_energy'], g['checkerboard_energy'])} "
        f"({h['checkerboard_energy']:.3e} vs {g['checkerboard_energy']:.3e}), its period-2 "
        f"share {better(h['period2_share'], g['period2_share'])} "
        f"({h['period2_share']:.3e} vs {g['period2_share']:.3e}) and its high-frequency share "
        f"{better(h['nyquist_share'], g['nyquist_share'])} "
        f"({h['nyquist_share']:.3e} vs {g['nyquist_share']:.3e})."
    )
    meta = {"coin_fraction": float(mask.mean()), "verdict": verdict}
    (DATA / "seg_stats.json").write_text(json.dumps({"stats": stats, **meta}, indent=2) + "\n")
    save_picture(DOCS / "masks.png", crop, crop_label, logits, stats)
    write_training_md(DOCS / "training.md", stats, meta)
    print(json.dumps(stats, indent=2))
    print(verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
