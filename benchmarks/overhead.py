"""Per-op overhead and large-op efficiency of the engine, side by side with NumPy and PyTorch.

Two workloads, each timed for minilm, raw NumPy (forward only: NumPy has no backward) and
PyTorch's CPU build (when installed) in this one process, with the same number of threads:

1. a chain of 50 elementwise ops on 8x8 tensors, forward + backward: almost all of the time is
   the engine's own bookkeeping, so this measures per-op overhead;
2. a 1024x1024 matmul, forward, and forward + backward: almost all of the time is BLAS, so
   this measures what the engine adds on top of it.

Targets (issue 2): chain ratio minilm/torch <= 1.0; matmul forward within 5% of raw NumPy.

    python benchmarks/overhead.py [--threads N] [--device cpu|cuda] [--repeats R]

Every figure is the median over R samples; each sample times a loop of about 20 ms, and the
contenders take their samples in turn (minilm with NumPy; PyTorch in a group of its own), so
that load on the machine hits them alike.
"""

from __future__ import annotations

import argparse
import os


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for BLAS and PyTorch")
    p.add_argument("--repeats", type=int, default=25, help="samples per measurement (the median is reported)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (minilm only; PyTorch runs on the CPU)")
    p.add_argument("--chain-length", type=int, default=50)
    p.add_argument("--size", type=int, default=1024, help="matmul size")
    return p.parse_args()


args = parse_args()
from common import fmt, import_torch, median_times, set_threads  # noqa: E402

set_threads(args.threads)  # before NumPy is imported

import numpy as np  # noqa: E402

import minilm  # noqa: E402

torch = import_torch(args.threads)


def chain(x, w, length, tanh=lambda y: y.tanh(), sigmoid=lambda y: y.sigmoid()):
    """The 50-op chain: mul, add, tanh, sub, sigmoid, repeated (values stay bounded). The same
    code runs on minilm and PyTorch tensors, and on NumPy arrays given NumPy's tanh and sigmoid."""
    y = x
    for i in range(length):
        k = i % 5
        if k == 0:
            y = y * w
        elif k == 1:
            y = y + w
        elif k == 2:
            y = tanh(y)
        elif k == 3:
            y = y - w
        else:
            y = sigmoid(y)
    return y


def numpy_chain(x, w, length):
    return chain(x, w, length, np.tanh, lambda y: 1 / (1 + np.exp(-y)))


def main():
    rng = np.random.default_rng(0)
    L, R = args.chain_length, args.repeats
    print(
        f"threads={args.threads}  repeats={R}  device={args.device}  numpy {np.__version__}"
        + (f"  torch {torch.__version__}" if torch else "  (torch not installed)")
    )
    rows = []

    # 1. chain of small elementwise ops, forward + backward
    xs = rng.standard_normal((8, 8)).astype(np.float32)
    ws = rng.standard_normal((8, 8)).astype(np.float32)
    mx = minilm.tensor(xs, device=args.device, requires_grad=True)
    mw = minilm.tensor(ws, device=args.device, requires_grad=True)

    def m_chain():
        mx.grad = mw.grad = None
        chain(mx, mw, L).sum().backward()

    fns = {"minilm": m_chain, "numpy": lambda: numpy_chain(xs, ws, L).sum()}
    if torch:
        tx = torch.tensor(xs, requires_grad=True)
        tw = torch.tensor(ws, requires_grad=True)

        def t_chain():
            tx.grad = tw.grad = None
            chain(tx, tw, L).sum().backward()

        torch_fns = {"torch": t_chain}
    t = {**median_times(fns, R), **(median_times(torch_fns, R) if torch else {})}
    t_m, t_np, t_t = t["minilm"], t["numpy"], t.get("torch")
    rows.append((f"chain of {L} ops on 8x8, fwd+bwd", t_m, t_np, t_t))

    # 2. matmul
    n = args.size
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    ma = minilm.tensor(a, device=args.device, requires_grad=True)
    mb = minilm.tensor(b, device=args.device, requires_grad=True)
    sync = minilm.cuda.synchronize if args.device != "cpu" else (lambda: None)

    def m_fwd():
        with minilm.no_grad():
            ma @ mb
        sync()

    def m_fwd_bwd():
        ma.grad = mb.grad = None
        (ma @ mb).backward(gout)
        sync()

    gout = minilm.ones(n, n, device=args.device)
    ones = np.ones((n, n), np.float32)
    fns = {
        "minilm_f": m_fwd,
        "minilm_fb": m_fwd_bwd,
        "numpy_f": lambda: a @ b,
        "numpy_fb": lambda: (a @ b, ones @ b.T, a.T @ ones),
    }
    if torch:
        ta = torch.tensor(a, requires_grad=True)
        tb = torch.tensor(b, requires_grad=True)
        tg = torch.ones(n, n)

        def t_fwd():
            with torch.no_grad():
                ta @ tb

        def t_fwd_bwd():
            ta.grad = tb.grad = None
            (ta @ tb).backward(tg)

        torch_fns = {"torch_f": t_fwd, "torch_fb": t_fwd_bwd}
    t = {**median_times(fns, R), **(median_times(torch_fns, R) if torch else {})}
    t_mf, t_mfb, t_npf, t_npfb = t["minilm_f"], t["minilm_fb"], t["numpy_f"], t["numpy_fb"]
    t_tf, t_tfb = t.get("torch_f"), t.get("torch_fb")
    rows.append((f"matmul {n}x{n}, forward", t_mf, t_npf, t_tf))
    rows.append((f"matmul {n}x{n}, fwd+bwd (NumPy: the 3 matmuls)", t_mfb, t_npfb, t_tfb))

    print(
        f"\n{'workload':48s} {'minilm':>13s} {'numpy':>13s} {'torch':>13s} {'minilm/numpy':>13s} {'minilm/torch':>13s}"
    )
    for name, tm, tn, tt in rows:
        r_np = f"{tm / tn:13.2f}"
        r_t = f"{tm / tt:13.2f}" if tt else f"{'-':>13s}"
        print(f"{name:48s} {fmt(tm)} {fmt(tn)} {fmt(tt) if tt else f'{chr(45):>13s}'} {r_np} {r_t}")
    print("\ntargets: chain minilm/torch <= 1.00;  matmul forward minilm/numpy <= 1.05")


if __name__ == "__main__":
    main()
