"""The fused kernels against PyTorch's CPU build, forward + backward, in one process with the same
threads:

1. cross_entropy on (4096, 8000) float32 logits with 15% of the rows ignored (ignore_index),
   the shape of an MLM head's output over a batch;
2. layer_norm on (8192, 256) float32 with weight and bias.

Target (issue 3): minilm within 1.5x of PyTorch on each.

    python benchmarks/kernels.py [--threads N] [--repeats R] [--device cpu|cuda]

With ``--device cuda`` minilm's fused CuPy kernels run on the GPU and PyTorch on CUDA too when
its build has it (otherwise the torch column is left empty). Every figure is the median of R
samples (each sample about 50 ms of repeated calls); minilm and PyTorch are timed in separate
groups.

Run it both ways: by default, glibc returns each freed 100+ MB buffer to the system and the next
call page-faults a fresh one in, which dominates PyTorch's cross_entropy time on some machines;
``--keep-memory`` lets malloc reuse freed memory, which shows the cost of the arithmetic itself.
"""

from __future__ import annotations

import argparse
import os


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for BLAS and PyTorch")
    p.add_argument("--repeats", type=int, default=15, help="samples per measurement (the median is reported)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--rows", type=int, default=4096, help="cross_entropy rows")
    p.add_argument("--classes", type=int, default=8000, help="cross_entropy classes")
    p.add_argument(
        "--keep-memory",
        action="store_true",
        help="let malloc reuse freed memory (no page faults on fresh buffers; see common.keep_freed_memory)",
    )
    return p.parse_args()


args = parse_args()
import common  # noqa: E402
from common import import_torch, keep_freed_memory, set_threads, synchronize, torch_device  # noqa: E402

set_threads(args.threads)
kept = keep_freed_memory() if args.keep_memory else False

import numpy as np  # noqa: E402

import minilm  # noqa: E402
import minilm.nn.functional as F  # noqa: E402

torch = import_torch(args.threads)


def _sync():
    synchronize(args.device)


def _torch_device():
    return torch_device(torch, args.device)


def cross_entropy_case(rng):
    n, c = args.rows, args.classes
    logits = rng.standard_normal((n, c)).astype(np.float32)
    target = rng.integers(0, c, size=n)
    target[rng.random(n) < 0.15] = -100
    x = minilm.tensor(logits, device=args.device, requires_grad=True)
    t = minilm.tensor(target, device=args.device)

    def ours():
        x.grad = None
        F.cross_entropy(x, t).backward()
        _sync()

    theirs = None
    td = _torch_device()
    if td:
        tx = torch.tensor(logits, device=td, requires_grad=True)
        tt = torch.tensor(target, device=td)

        def theirs():
            tx.grad = None
            torch.nn.functional.cross_entropy(tx, tt).backward()
            if td == "cuda":
                torch.cuda.synchronize()

    return f"cross_entropy ({n}, {c}), 15% ignored, fwd+bwd", ours, theirs


def layer_norm_case(rng):
    shape = (8192, 256)
    xs = rng.standard_normal(shape).astype(np.float32)
    ws = rng.standard_normal(shape[1]).astype(np.float32)
    bs = rng.standard_normal(shape[1]).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    x, w, b = (minilm.tensor(a, device=args.device, requires_grad=True) for a in (xs, ws, bs))
    mg = minilm.tensor(g, device=args.device)

    def ours():
        x.grad = w.grad = b.grad = None
        F.layer_norm(x, (shape[1],), w, b).backward(mg)
        _sync()

    theirs = None
    td = _torch_device()
    if td:
        tx, tw, tb = (torch.tensor(a, device=td, requires_grad=True) for a in (xs, ws, bs))
        tg = torch.tensor(g, device=td)

        def theirs():
            tx.grad = tw.grad = tb.grad = None
            torch.nn.functional.layer_norm(tx, (shape[1],), tw, tb).backward(tg)
            if td == "cuda":
                torch.cuda.synchronize()

    return f"layer_norm {shape}, fwd+bwd", ours, theirs


def main():
    rng = np.random.default_rng(0)
    print(common.header(args, np, torch))
    print(f"\n{'workload':48s} {'minilm':>13s} {'torch':>13s} {'minilm/torch':>13s}")
    for case in (cross_entropy_case, layer_norm_case):
        common.compare(*case(rng), args.repeats, 0.05, 48)
    print("\ntarget: minilm/torch <= 1.5 on each")


if __name__ == "__main__":
    main()
