"""One BERT pretraining step (masked language modelling + next sentence prediction, AdamW),
minilm against PyTorch in one process with the same threads.

The step: ``minilm.models.bert.BertForPreTraining`` on one fixed MLM batch (15% of the real tokens
labelled, 80/10/10 masking by ``minilm.data.masking.mask_tokens``, some padding, random NSP
labels) -> ``out.loss.backward()`` -> ``AdamW.step()`` -> ``zero_grad()``. The PyTorch twin is
built here from ``torch.nn.TransformerEncoder`` (post-norm, gelu, batch first) with the same
module names, embeddings + LayerNorm, the MLM transform and the TIED decoder applied only at the
labelled positions (the gather minilm does), and the NSP head; it gets minilm's initial weights and
``torch.optim.AdamW``. Before timing, dropout is switched off in both and the first-step losses,
every gradient and the second-step losses must agree (a failed check stops the benchmark); the
timed steps then run with BERT's dropout (0.1 on the hidden states and attention probabilities).

Configurations: the default (CPU) one is 2 layers, hidden 128, 2 heads, FFN 512, sequence 64,
batch 32, vocabulary 8000. ``--large`` (the default with ``--device cuda``) is BERT-base's encoder:
12 layers, hidden 768, 12 heads, FFN 3072, sequence 128, batch 32, vocabulary 30522. Each size can
be overridden (``--layers --hidden --heads --ffn --seq --batch --vocab``).

Reported: the median step time of each library over ``--steps`` steps (after ``--warmup``), their
ratio, achieved GFLOP/s from an analytic count of the matrix-product FLOPs (printed), the
medians of each phase (forward, backward, optimizer step + zero_grad) and of the CPU time of a
step (all threads of the process: on a machine shared with other work it varies less than the
wall time, and with one thread it is the wall time the step would take alone), and the ratio of
each round's medians. ``--profile N`` adds a cProfile of N minilm steps (top functions by own time).
Target (issue 6): minilm/torch <= 1.0 on CPU.

With ``--device cuda`` minilm runs its CuPy kernels and PyTorch runs on CUDA when its build has it
(otherwise the torch column is left empty); each phase ends with a device synchronisation, and the
CPU-time column then only says how busy the host was.

    python benchmarks/transformer.py [--threads N] [--steps 20] [--warmup 3] [--rounds 2]
                                     [--device cpu|cuda] [--large] [--dropout 0.1] [--profile N]

Time is taken in separate groups (all minilm steps of a round, then all PyTorch steps), because
PyTorch's OpenMP threads keep spinning for a while after a parallel region; ``--rounds`` repeats
the pair of groups so that a change of machine load shows up in both. ``--keep-memory`` and
``--openblas-coretype`` as in ``recurrent.py``.
"""

from __future__ import annotations

import argparse
import os


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for BLAS and PyTorch")
    p.add_argument("--steps", type=int, default=20, help="timed training steps per library and round")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per library before timing")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds of minilm and PyTorch groups")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument(
        "--large",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="BERT-base sizes (12 layers, hidden 768, sequence 128, vocabulary 30522); default on cuda",
    )
    p.add_argument("--layers", type=int)
    p.add_argument("--hidden", type=int)
    p.add_argument("--heads", type=int)
    p.add_argument("--ffn", type=int)
    p.add_argument("--seq", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--vocab", type=int)
    p.add_argument("--dropout", type=float, default=0.1, help="hidden and attention dropout while timing")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--profile", type=int, default=0, help="cProfile this many minilm steps after timing")
    p.add_argument("--no-check", action="store_true", help="skip the loss/gradient agreement check")
    p.add_argument("--keep-memory", action="store_true", help="let malloc reuse freed memory (see common.py)")
    p.add_argument("--openblas-coretype", default=None, help="OpenBLAS kernels to use (common.set_openblas_coretype)")
    a = p.parse_args()
    if a.large is None:
        a.large = a.device != "cpu"
    sizes = (
        dict(layers=12, hidden=768, heads=12, ffn=3072, seq=128, batch=32, vocab=30522)
        if a.large
        else dict(layers=2, hidden=128, heads=2, ffn=512, seq=64, batch=32, vocab=8000)
    )
    for k, v in sizes.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    a.repeats = a.steps * a.rounds  # for common.header
    return a


args = parse_args()
import common  # noqa: E402
from common import fmt, import_torch  # noqa: E402

common.configure(args)

import time  # noqa: E402

import numpy as np  # noqa: E402

import minilm  # noqa: E402
from minilm.data.masking import mask_tokens  # noqa: E402
from minilm.models.bert import BertConfig, BertForPreTraining  # noqa: E402

torch = import_torch(args.threads)

PAD, CLS, SEP, MASK = 0, 1, 2, 3  # the special ids of the synthetic vocabulary


# ---------------------------------------------------------------------------------------------
# the batch
# ---------------------------------------------------------------------------------------------


def make_batch(rng) -> dict:
    """One fixed MLM + NSP batch as NumPy arrays: ``[CLS] A [SEP] B [SEP]`` of random ordinary
    ids, lengths between 3/4 L and L (the rest padding), 15% of the ordinary tokens chosen for MLM
    (80% [MASK], 10% random, 10% kept), random NSP labels."""
    N, L, V = args.batch, args.seq, args.vocab
    ids = rng.integers(MASK + 1, V, size=(N, L))
    lengths = rng.integers(max(5, 3 * L // 4), L + 1, size=N)
    types = np.zeros((N, L), dtype=np.int64)
    for n, length in enumerate(lengths):
        split = int(rng.integers(2, length - 2))  # [CLS] A... [SEP] at split, B... [SEP] at length-1
        ids[n, 0], ids[n, split], ids[n, length - 1] = CLS, SEP, SEP
        ids[n, length:] = PAD
        types[n, split + 1 : length] = 1
    attention = (np.arange(L)[None, :] < lengths[:, None]).astype(np.int64)
    masked, labels = mask_tokens(ids, mask_token_id=MASK, vocab_size=V, special_ids=[PAD, CLS, SEP, MASK], rng=rng)
    return {
        "input_ids": masked,
        "attention_mask": attention,
        "token_type_ids": types,
        "labels": labels,
        "next_sentence_label": rng.integers(0, 2, size=N),
    }


# ---------------------------------------------------------------------------------------------
# FLOPs
# ---------------------------------------------------------------------------------------------


def matmul_flops(M: int) -> tuple[int, str]:
    """The matrix-product FLOPs (2 per multiply-add) of one training step with ``M`` labelled
    positions, and the formula. Per layer, over T = N L tokens with hidden d, FFN f:
    Q/K/V projections 2T*3d^2, scores QK^T 2T*L*d, P V 2T*L*d, output projection 2T*d^2, FFN
    2T*2*d*f. Heads: MLM transform 2M*d^2 and decoder 2M*d*V, pooler 2N*d^2, NSP 2N*d*2. Backward
    does two products of the same size for each forward product (input and weight gradients; dQ,
    dK for the scores; dP, dV for P V), so a step is 3x the forward."""
    N, L, d, f, V, layers = args.batch, args.seq, args.hidden, args.ffn, args.vocab, args.layers
    T = N * L
    per_layer = 2 * T * (4 * d * d + 2 * L * d + 2 * d * f)
    heads = 2 * M * d * (d + V) + 2 * N * d * (d + 2)
    forward = layers * per_layer + heads
    formula = (
        f"3 x [layers*2T(4d^2 + 2Ld + 2df) + 2M d(d+V) + 2N d(d+2)], T=N*L={T}, M={M} labelled, "
        f"d={d}, f={f}, L={L}, N={N}, V={V}  = {3 * forward / 1e9:.3f} GFLOP"
    )
    return 3 * forward, formula


# ---------------------------------------------------------------------------------------------
# the PyTorch twin
# ---------------------------------------------------------------------------------------------


def torch_bert(config: BertConfig):
    """A PyTorch BertForPreTraining with minilm's module names (so minilm's state_dict loads into it)."""
    tnn = torch.nn
    H = config.hidden_size

    class Embeddings(tnn.Module):
        def __init__(self):
            super().__init__()
            self.word_embeddings = tnn.Embedding(config.vocab_size, H, padding_idx=config.pad_token_id)
            self.position_embeddings = tnn.Embedding(config.max_position_embeddings, H)
            self.token_type_embeddings = tnn.Embedding(config.type_vocab_size, H)
            self.LayerNorm = tnn.LayerNorm(H, eps=config.layer_norm_eps)
            self.dropout = tnn.Dropout(config.hidden_dropout_prob)

        def forward(self, ids, types):
            pos = torch.arange(ids.shape[1], device=ids.device)
            x = self.word_embeddings(ids) + self.position_embeddings(pos) + self.token_type_embeddings(types)
            return self.dropout(self.LayerNorm(x))

    class Pooler(tnn.Module):
        def __init__(self):
            super().__init__()
            self.dense = tnn.Linear(H, H)

        def forward(self, h):
            return torch.tanh(self.dense(h[:, 0]))

    class Bert(tnn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = Embeddings()
            layer = tnn.TransformerEncoderLayer(
                H,
                config.num_attention_heads,
                dim_feedforward=config.intermediate_size,
                dropout=config.hidden_dropout_prob,
                activation="gelu",
                layer_norm_eps=config.layer_norm_eps,
                batch_first=True,
                norm_first=False,
            )
            layer.self_attn.dropout = config.attention_probs_dropout_prob
            layer.dropout = tnn.Dropout(0.0)  # BERT has no dropout between the activation and linear2
            self.encoder = tnn.TransformerEncoder(layer, config.num_hidden_layers, enable_nested_tensor=False)
            self.pooler = Pooler()

        def forward(self, ids, attention_mask, types):
            x = self.embeddings(ids, types)
            h = self.encoder(x, src_key_padding_mask=attention_mask == 0)
            return h, self.pooler(h)

    class Transform(tnn.Module):
        def __init__(self):
            super().__init__()
            self.dense = tnn.Linear(H, H)
            self.LayerNorm = tnn.LayerNorm(H, eps=config.layer_norm_eps)

        def forward(self, h):
            return self.LayerNorm(torch.nn.functional.gelu(self.dense(h)))

    class Predictions(tnn.Module):
        def __init__(self, word_embeddings):
            super().__init__()
            self.transform = Transform()
            self.decoder = tnn.Linear(H, config.vocab_size, bias=False)
            self.decoder.weight = word_embeddings  # tied
            self.bias = tnn.Parameter(torch.zeros(config.vocab_size))

        def forward(self, h):
            return torch.nn.functional.linear(self.transform(h), self.decoder.weight, self.bias)

    class Heads(tnn.Module):
        def __init__(self, word_embeddings):
            super().__init__()
            self.predictions = Predictions(word_embeddings)
            self.seq_relationship = tnn.Linear(H, 2)

    class BertForPreTraining(tnn.Module):
        def __init__(self):
            super().__init__()
            self.bert = Bert()
            self.cls = Heads(self.bert.embeddings.word_embeddings.weight)

        def forward(self, input_ids, attention_mask, token_type_ids, labels, next_sentence_label):
            h, pooled = self.bert(input_ids, attention_mask, token_type_ids)
            positions = torch.nonzero(labels.reshape(-1) != -100).reshape(-1)
            logits = self.cls.predictions(h.reshape(-1, H)[positions])  # only the labelled positions
            F = torch.nn.functional
            mlm = F.cross_entropy(logits, labels.reshape(-1)[positions])
            nsp = F.cross_entropy(self.cls.seq_relationship(pooled), next_sentence_label)
            return mlm + nsp

    return BertForPreTraining()


def set_dropout(model, p: float, mha_class, dropout_class) -> None:
    """Set every dropout of a BERT (minilm's or the twin) to ``p``, except the one between the
    activation and linear2, which BERT does not have (it stays 0)."""
    for name, m in model.named_modules():
        if isinstance(m, mha_class):
            m.dropout = p
        elif isinstance(m, dropout_class) and not (".layers." in name and name.endswith(".dropout")):
            m.p = p


# ---------------------------------------------------------------------------------------------
# the two steps
# ---------------------------------------------------------------------------------------------


class Step:
    """One training step of a model (``forward()`` returns the loss), timed phase by phase."""

    def __call__(self) -> tuple[float, float, float, float]:
        """One step; returns the wall seconds of (forward, backward, optimizer step + zero_grad) and
        the CPU seconds of the whole step (all threads of the process)."""
        c0, t0 = time.process_time(), time.perf_counter()
        loss = self.forward()
        self.sync()
        t1 = time.perf_counter()
        loss.backward()
        self.sync()
        t2 = time.perf_counter()
        self.opt.step()
        self.opt.zero_grad()
        self.sync()
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2, time.process_time() - c0


class MinilmStep(Step):
    def __init__(self, config, batch, device):
        self.model = BertForPreTraining(config, device=device)
        self.model.train()
        self.opt = minilm.optim.AdamW(self.model.parameters(), lr=args.lr, weight_decay=0.01)
        self.batch = {k: minilm.tensor(v, device=device) for k, v in batch.items()}
        self.device = device

    def sync(self):
        common.synchronize(self.device)

    def forward(self):
        return self.model(**self.batch).loss

    def state(self) -> dict:
        return {k: minilm.backend.to_device(v.data, minilm.backend.CPU) for k, v in self.model.state_dict().items()}

    def set_dropout(self, p):
        set_dropout(self.model, p, minilm.nn.MultiheadAttention, minilm.nn.Dropout)

    def grads(self) -> dict:
        return {
            name: minilm.backend.to_device(p.grad.data, minilm.backend.CPU)
            for name, p in self.model.named_parameters()
            if p.grad is not None
        }


class TorchStep(Step):
    def __init__(self, config, batch, state, device):
        self.model = torch_bert(config).to(device)
        missing = self.model.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=True)
        assert not missing.missing_keys and not missing.unexpected_keys, missing
        self.model.train()
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=args.lr, weight_decay=0.01)
        self.batch = {k: torch.tensor(v, device=device) for k, v in batch.items()}
        self.device = device

    def sync(self):
        if self.device == "cuda":
            torch.cuda.synchronize()

    def forward(self):
        return self.model(**self.batch)

    def set_dropout(self, p):
        set_dropout(self.model, p, torch.nn.MultiheadAttention, torch.nn.Dropout)

    def grads(self) -> dict:
        return {name: p.grad.detach().cpu().numpy() for name, p in self.model.named_parameters() if p.grad is not None}


def check_agreement(ours: MinilmStep, theirs: TorchStep) -> None:
    """Without dropout: the first-step losses, all gradients, and (after one AdamW step each) the
    second-step losses must agree. Raises AssertionError otherwise."""
    ours.set_dropout(0.0)
    theirs.set_dropout(0.0)
    l_m = ours.forward()
    l_t = theirs.forward()
    l_m.backward()
    l_t.backward()
    a, b = float(l_m.item()), float(l_t.item())
    g_m, g_t = ours.grads(), theirs.grads()
    assert g_m.keys() == g_t.keys(), sorted(g_m.keys() ^ g_t.keys())
    worst, worst_name = 0.0, ""
    for name in g_m:
        err = float(np.abs(g_m[name] - g_t[name]).max() / (np.abs(g_t[name]).max() + 1e-12))
        if err > worst:
            worst, worst_name = err, name
    ours.opt.step()
    ours.opt.zero_grad()
    theirs.opt.step()
    theirs.opt.zero_grad()
    a2, b2 = float(ours.forward().item()), float(theirs.forward().item())
    theirs.opt.zero_grad()
    print(
        f"check (dropout off): loss minilm {a:.6f} torch {b:.6f} (diff {abs(a - b):.1e}); after one AdamW step "
        f"{a2:.6f} / {b2:.6f} (diff {abs(a2 - b2):.1e}); largest gradient difference {worst:.1e} of the "
        f"largest entry ({worst_name})"
    )
    tol = 1e-4 * max(1.0, abs(b))
    assert abs(a - b) <= tol, f"first-step losses differ: minilm {a} vs torch {b}"
    assert abs(a2 - b2) <= 2 * tol, f"second-step losses differ: minilm {a2} vs torch {b2}"
    assert worst < 1e-3, f"gradient of {worst_name} differs by {worst:.1e} of its largest entry"
    ours.set_dropout(args.dropout)
    theirs.set_dropout(args.dropout)


# ---------------------------------------------------------------------------------------------
# timing and report
# ---------------------------------------------------------------------------------------------


def run_group(step, n: int) -> list:
    return [step() for _ in range(n)]


def medians(samples: list) -> tuple:
    """Medians of the wall time of the whole step, of each phase, and of the step's CPU time."""
    a = np.asarray(samples)
    return float(np.median(a[:, :3].sum(axis=1))), *(float(x) for x in np.median(a, axis=0))


def round_medians(samples: list) -> list:
    """The median step (wall) time of each round."""
    n = args.steps
    return [float(np.median(np.asarray(samples[i : i + n])[:, :3].sum(axis=1))) for i in range(0, len(samples), n)]


def profile(step, n: int) -> None:
    import cProfile
    import pstats

    pr = cProfile.Profile()
    pr.enable()
    run_group(step, n)
    pr.disable()
    print(f"\ncProfile of {n} minilm steps, top 25 by own time:")
    pstats.Stats(pr).sort_stats("tottime").print_stats(25)


def main():
    rng = np.random.default_rng(0)
    minilm.manual_seed(0)
    config = BertConfig(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=args.ffn,
        max_position_embeddings=max(512, args.seq),
        hidden_dropout_prob=args.dropout,
        attention_probs_dropout_prob=args.dropout,
    )
    batch = make_batch(rng)
    M = int((batch["labels"] != -100).sum())
    flops, formula = matmul_flops(M)
    print(common.header(args, np, torch))
    print(
        f"BERT pretraining step: {args.layers} layers, hidden {args.hidden}, {args.heads} heads, FFN {args.ffn}, "
        f"sequence {args.seq}, batch {args.batch}, vocabulary {args.vocab}, float32, dropout {args.dropout}, "
        f"AdamW; {int(batch['attention_mask'].sum())} real tokens, {M} labelled; "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(detected)')}"
        f"{', malloc keeps freed memory' if args.keep_memory else ''}"
    )
    print(f"matmul FLOPs per step: {formula}")

    ours = MinilmStep(config, batch, args.device)
    td = common.torch_device(torch, args.device)
    theirs = TorchStep(config, batch, ours.state(), td) if td else None
    if theirs is not None and not args.no_check:
        check_agreement(ours, theirs)
    if args.dropout != config.hidden_dropout_prob:
        ours.set_dropout(args.dropout)

    run_group(ours, args.warmup)
    if theirs is not None:
        run_group(theirs, args.warmup)
    s_m, s_t = [], []
    for _ in range(args.rounds):
        s_m += run_group(ours, args.steps)
        if theirs is not None:
            s_t += run_group(theirs, args.steps)

    rows = [("minilm", medians(s_m))] + ([("torch", medians(s_t))] if s_t else [])
    head = ("step", "forward", "backward", "optimizer", "CPU/step")
    print(f"\n{'median of ' + str(len(s_m)) + ' steps':22s} " + " ".join(f"{h:>13s}" for h in head) + "   GFLOP/s")
    for name, values in rows:
        print(f"{name:22s} " + " ".join(fmt(v) for v in values) + f" {flops / values[0] / 1e9:9.1f}")
    if s_t:
        ratios = [a / b for a, b in zip(rows[0][1], rows[1][1], strict=True)]
        print(f"{'minilm/torch':22s} " + " ".join(f"{r:13.2f}" for r in ratios))
        per_round = [a / b for a, b in zip(round_medians(s_m), round_medians(s_t), strict=True)]
        print(
            "per round: minilm/torch "
            + ", ".join(f"{r:.2f}" for r in per_round)
            + f" (step medians minilm {', '.join(f'{x * 1e3:.1f}' for x in round_medians(s_m))} ms; "
            + f"torch {', '.join(f'{x * 1e3:.1f}' for x in round_medians(s_t))} ms)"
        )
    print(f"\ntarget: minilm/torch <= 1.0 for the step on CPU; load average {os.getloadavg()[0]:.2f}")
    if args.profile:
        profile(ours, args.profile)


if __name__ == "__main__":
    main()
