"""One training step of a recurrent language model, minilm against PyTorch (``nn.LSTM`` / ``nn.GRU``)
in one process with the same threads.

The step: embedding (vocabulary 8000, size = hidden) -> 2-layer LSTM (or GRU), hidden 256 ->
linear decoder to 8000 logits -> cross-entropy over all (batch 32) x (sequence 35) positions ->
backward -> SGD update. Both libraries start from the same weights and see the same batch. A
second table times the recurrent layers alone (forward + backward with a random output gradient),
which is where minilm's hand-written kernels are; the decoder and the loss are the same kernels
as chapter 2's.

Target (issue 5): minilm no slower than 1.2x PyTorch.

    python benchmarks/recurrent.py [--threads N] [--repeats R] [--device cpu|cuda]
                                   [--hidden 256] [--batch 32] [--seq 35] [--vocab 8000] [--layers 2]

Where OpenBLAS misdetects the CPU (``OPENBLAS_VERBOSE=2 python -c "import numpy"`` prints the kernels
it chose; an AVX-512 AMD EPYC shows up as Haswell), ``--openblas-coretype SkylakeX`` gives NumPy its
AVX-512 kernels, as PyTorch's oneDNN/MKL already uses them; report both runs. ``--keep-memory``
changes both libraries' allocation (see common.py); report it too.

On a GPU (``--device cuda``; try ``--hidden 1024 --batch 256``) minilm runs its fused CuPy step kernels
and PyTorch runs cuDNN when its build has CUDA (otherwise the torch column is left empty). Every
figure is the median of R samples; minilm and PyTorch are timed in separate groups.
"""

from __future__ import annotations

import argparse
import os


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for BLAS and PyTorch")
    p.add_argument("--repeats", type=int, default=9, help="samples per measurement (the median is reported)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=35)
    p.add_argument("--vocab", type=int, default=8000)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--cells", default="LSTM,GRU", help="comma-separated: LSTM, GRU, RNN")
    p.add_argument("--keep-memory", action="store_true", help="let malloc reuse freed memory (see common.py)")
    p.add_argument(
        "--openblas-coretype",
        default=None,
        help="OpenBLAS kernels to use, e.g. SkylakeX on an AVX-512 CPU it misdetects (common.set_openblas_coretype)",
    )
    return p.parse_args()


args = parse_args()
import common  # noqa: E402
from common import import_torch  # noqa: E402

common.configure(args)

import numpy as np  # noqa: E402

import minilm  # noqa: E402
import minilm.nn.functional as F  # noqa: E402
from minilm import nn  # noqa: E402

torch = import_torch(args.threads)


def _sync():
    common.synchronize(args.device)


def _torch_device():
    return common.torch_device(torch, args.device)


class LM(nn.Module):
    def __init__(self, cell):
        super().__init__()
        H = args.hidden
        self.embedding = nn.Embedding(args.vocab, H)
        self.rnn = getattr(nn, cell)(H, H, num_layers=args.layers, batch_first=True)
        self.decoder = nn.Linear(H, args.vocab)

    def forward(self, ids):
        out, _ = self.rnn(self.embedding(ids))
        return self.decoder(out)


def torch_lm(cell, state):
    H = args.hidden
    tnn = torch.nn

    class TorchLM(tnn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = tnn.Embedding(args.vocab, H)
            self.rnn = getattr(tnn, cell)(H, H, num_layers=args.layers, batch_first=True)
            self.decoder = tnn.Linear(H, args.vocab)

        def forward(self, ids):
            out, _ = self.rnn(self.embedding(ids))
            return self.decoder(out)

    m = TorchLM()
    m.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    return m


def training_step_case(cell, rng):
    ids = rng.integers(0, args.vocab, size=(args.batch, args.seq + 1))
    model = LM(cell).to(args.device)
    state = {k: minilm.backend.to_device(v.data, minilm.backend.CPU) for k, v in model.state_dict().items()}
    opt = minilm.optim.SGD(model.parameters(), lr=0.1)
    x = minilm.tensor(ids[:, :-1], device=args.device)
    y = minilm.tensor(ids[:, 1:], device=args.device)

    def ours():
        opt.zero_grad()
        loss = F.cross_entropy(model(x).reshape(-1, args.vocab), y.reshape(-1))
        loss.backward()
        opt.step()
        _sync()

    theirs = None
    td = _torch_device()
    if td:
        tm = torch_lm(cell, state).to(td)
        topt = torch.optim.SGD(tm.parameters(), lr=0.1)
        tx, ty = torch.tensor(ids[:, :-1], device=td), torch.tensor(ids[:, 1:], device=td)

        def theirs():
            topt.zero_grad()
            loss = torch.nn.functional.cross_entropy(tm(tx).reshape(-1, args.vocab), ty.reshape(-1))
            loss.backward()
            topt.step()
            if td == "cuda":
                torch.cuda.synchronize()

    return f"{cell} LM training step", ours, theirs


def layer_case(cell, rng):
    H, N, T = args.hidden, args.batch, args.seq
    xs = rng.standard_normal((N, T, H)).astype(np.float32)
    gs = rng.standard_normal((N, T, H)).astype(np.float32)
    layer = getattr(nn, cell)(H, H, num_layers=args.layers, batch_first=True).to(args.device)
    x = minilm.tensor(xs, device=args.device, requires_grad=True)
    g = minilm.tensor(gs, device=args.device)

    def ours():
        layer.zero_grad()
        x.grad = None
        layer(x)[0].backward(g)
        _sync()

    theirs = None
    td = _torch_device()
    if td:
        tl = getattr(torch.nn, cell)(H, H, num_layers=args.layers, batch_first=True).to(td)
        tx = torch.tensor(xs, device=td, requires_grad=True)
        tg = torch.tensor(gs, device=td)

        def theirs():
            tl.zero_grad()
            tx.grad = None
            tl(tx)[0].backward(tg)
            if td == "cuda":
                torch.cuda.synchronize()

    return f"{cell} layers alone, fwd+bwd", ours, theirs


def main():
    rng = np.random.default_rng(0)
    print(common.header(args, np, torch))
    print(
        f"{args.layers} layers, hidden {args.hidden}, batch {args.batch}, sequence {args.seq}, "
        f"vocabulary {args.vocab}, float32; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(detected)')}"
        f"{', malloc keeps freed memory' if args.keep_memory else ''}"
    )
    print(f"\n{'workload':36s} {'minilm':>13s} {'torch':>13s} {'minilm/torch':>13s}")
    for cell in args.cells.split(","):
        for case in (training_step_case, layer_case):
            common.compare(*case(cell.strip().upper(), rng), args.repeats, 0.2, 36)
    print("\ntarget: minilm/torch <= 1.2 for the training steps")


if __name__ == "__main__":
    main()
