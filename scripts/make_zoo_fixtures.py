"""Writes fixtures/zoo/: for every entry of `examples/zoo.rs`, its reduced-width twin's
perturbed weights, a random input and PyTorch's output.

    python3 scripts/make_zoo_fixtures.py            # from the repository root
    python3 scripts/make_zoo_fixtures.py --check    # regenerate into a temp dir, compare

For each name that `cargo run --example zoo -- list` prints, the script

1. gets the twin with `cargo run --example zoo -- twin NAME --small` (a module defining
   the twin class, `model()` and `INPUT_SHAPE`, importing only torch) and builds `model()`;
2. perturbs every parameter at random (so that a folding or naming slip shows) and sets
   random batch-norm statistics: running variance uniform in [0.5, 2], running mean
   N(0, 0.3²), weight 1 + N(0, 0.2²), bias N(0, 0.2²); PReLU slopes 0.25 + N(0, 0.1²);
   convolution weights, weight-norm magnitudes and directions and biases each get noise of
   a quarter of their own spread;
3. saves `state_dict()` with `safetensors.torch.save_file` (F32; a batch norm's
   `num_batches_tracked` is an I64 scalar, which the Rust side accepts and ignores) as
   `NAME.safetensors`;
4. draws an input `[2, *INPUT_SHAPE]` from N(0, 1) (`NAME.input.safetensors`, tensor
   `input`) and runs the twin in `eval()` mode, in float64 on those same float32
   weights, rounding the output once to float32 (`NAME.output.safetensors`, tensor
   `output`).

Seeded, one thread: the files are the same bit for bit on the same machine kind and
pinned versions. `cargo test --test zoo` reads them; nothing in `cargo test` needs Python.
"""

import argparse
import filecmp
import pathlib
import subprocess
import sys
import tempfile
import types

import torch
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "zoo"
SEED = 20240611


def zoo(*args: str) -> str:
    """Runs the zoo example and returns its stdout."""
    cmd = ["cargo", "run", "--quiet", "--example", "zoo", "--", *args]
    return subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout


def twin_module(name: str) -> types.ModuleType:
    source = zoo("twin", name, "--small")
    for line in source.splitlines():
        if line.startswith(("import ", "from ")) and line.strip() != "import torch":
            raise SystemExit(f"the twin of {name} imports more than torch: {line!r}")
    module = types.ModuleType(f"zoo_twin_{name}")
    exec(compile(source, f"<twin {name}>", "exec"), module.__dict__)
    return module


@torch.no_grad()
def perturb(model: torch.nn.Module, gen: torch.Generator) -> None:
    def randn(t):
        return torch.randn(t.shape, generator=gen, dtype=t.dtype)

    def rand(t):
        return torch.rand(t.shape, generator=gen, dtype=t.dtype)

    norms = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)
    done = set()
    for m in model.modules():
        if isinstance(m, norms):
            m.running_var.copy_(0.5 + 1.5 * rand(m.running_var))
            m.running_mean.copy_(0.3 * randn(m.running_mean))
            m.weight.copy_(1.0 + 0.2 * randn(m.weight))
            m.bias.copy_(0.2 * randn(m.bias))
            done.update({id(m.weight), id(m.bias)})
        elif isinstance(m, torch.nn.PReLU):
            m.weight.copy_(0.25 + 0.1 * randn(m.weight))
            done.add(id(m.weight))
    for name, p in model.named_parameters():
        if id(p) in done:
            continue
        spread = float(p.std()) if p.numel() > 1 else float(p.abs().mean())
        p.add_(0.25 * max(spread, 0.05) * randn(p))


def make(name: str, out: pathlib.Path) -> None:
    seed = SEED + sum(map(ord, name))
    gen = torch.Generator().manual_seed(seed)
    module = twin_module(name)
    torch.manual_seed(seed)  # the twin's default initialisation draws from the global RNG
    model = module.model()
    perturb(model, gen)
    model.eval()
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / f"{name}.safetensors"))

    x = torch.randn((2, *module.INPUT_SHAPE), generator=gen, dtype=torch.float32)
    with torch.no_grad():
        y = model.double()(x.double()).float()
    save_file({"input": x.contiguous()}, str(out / f"{name}.input.safetensors"))
    save_file({"output": y.contiguous()}, str(out / f"{name}.output.safetensors"))
    print(f"{name}: input {list(x.shape)}, output {list(y.shape)}, max |output| "
          f"{float(y.abs().max()):.4g}, {len(state)} tensors")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temp dir and fail if a committed file differs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = zoo("list").split()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            for name in names:
                make(name, tmp)
            files = sorted(p.name for p in tmp.iterdir())
            _, mismatch, errors = filecmp.cmpfiles(OUT, tmp, files, shallow=False)
            if mismatch or errors:
                print(f"differ: {mismatch + errors}", file=sys.stderr)
                return 1
            print(f"{len(files)} files identical")
            return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names:
        make(name, OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
