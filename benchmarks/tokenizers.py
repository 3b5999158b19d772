"""Tokenizers: minilm's pure-Python BPE and WordPiece against Hugging Face's ``tokenizers`` (Rust).

Three measurements on WikiText-2's validation text (``../shared/data/wikitext-2/valid.txt``, or
``--text FILE``), each the median of ``--repeats`` runs, in one process:

1. **Byte-level BPE training** to ``--vocab-size`` tokens (min_frequency 2): input words per second
   (words = whitespace-separated pieces of the text).
2. **WordPiece encoding** (BERT uncased rules) of every line with a vocabulary minilm trained on
   the same text and wrote as a BERT ``vocab.txt``, loaded by both libraries: output tokens per
   second. Each run starts from a freshly loaded tokenizer, so no cache is warm. The share of lines
   on which both libraries give the same tokens is printed too.
3. **Byte-level BPE encoding** of every line with the vocabulary and merges minilm learned in (1),
   given to both libraries: tokens per second. (Trained separately, the two libraries learn
   slightly different merges: they break ties between equally frequent pairs differently.)

The last column is minilm's time over ``tokenizers``' time for the same work (below 1: minilm is
faster). Each library is also checked to give the same ids as the other, line by line.

    python benchmarks/tokenizers.py [--threads N] [--repeats R] [--vocab-size V] [--text FILE]

``tokenizers`` parallelises with Rayon; ``--threads`` sets ``RAYON_NUM_THREADS`` so both sides get
the same number of cores (minilm uses one: it is a single Python thread). Without ``tokenizers``
installed (``pip install tokenizers``) its column stays empty.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_TEXT = ROOT.parent / "shared" / "data" / "wikitext-2" / "valid.txt"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for the Rust tokenizers")
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement (the median is reported)")
    p.add_argument("--vocab-size", type=int, default=8000, help="vocabulary size for both trainers")
    p.add_argument("--text", type=pathlib.Path, default=DEFAULT_TEXT, help="a text file, one paragraph per line")
    return p.parse_args()


def median_seconds(fn, repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls of ``fn`` (each call is long: no inner loop), and the
    result of the last call."""
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def row(what: str, unit: str, n: float, ours: float, theirs: float | None) -> None:
    rate = f"{n / ours:12,.0f}"
    other = f"{n / theirs:12,.0f}" if theirs else f"{'-':>12s}"
    ratio = f"{ours / theirs:9.2f}x" if theirs else f"{'-':>10s}"
    print(f"{what:28s} {unit:>10s} {rate} {other} {ratio}")


def main():
    args = parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    import sys

    # this file is itself called tokenizers.py: take its folder off the path, or ``import tokenizers``
    # below would import this script instead of Hugging Face's package
    here = pathlib.Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != here]
    sys.path.insert(0, str(ROOT))
    from minilm.data import ByteLevelBPETokenizer, WordPieceTokenizer

    try:
        import tokenizers as hf
    except ImportError:
        hf = None

    if not args.text.exists():
        raise SystemExit(
            f"benchmarks/tokenizers.py: {args.text} does not exist; pass --text FILE "
            "(any text file, one paragraph per line)"
        )
    lines = [line.strip() for line in args.text.read_text(encoding="utf-8").splitlines() if line.strip()]
    words = sum(len(line.split()) for line in lines)
    print(
        f"text: {args.text} ({len(lines):,} lines, {words:,} words, "
        f"{sum(map(len, lines)) / 1e6:.2f} M characters); vocab {args.vocab_size}; "
        f"tokenizers {hf.__version__ if hf else 'not installed'}, {args.threads} threads for it; "
        f"median of {args.repeats}\n"
    )
    print(f"{'':28s} {'per second':>10s} {'minilm':>12s} {'tokenizers':>12s} {'time ratio':>10s}")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

    # 1. BPE training
    def train_ours():
        return ByteLevelBPETokenizer().train(lines, vocab_size=args.vocab_size, min_frequency=2)

    def train_theirs():
        tok = hf.ByteLevelBPETokenizer()
        tok.train_from_iterator(
            lines, vocab_size=args.vocab_size, min_frequency=2, special_tokens=specials, show_progress=False
        )
        return tok

    ours, bpe = median_seconds(train_ours, args.repeats)
    theirs = median_seconds(train_theirs, args.repeats)[0] if hf else None
    row("BPE training", "words", words, ours, theirs)

    # 2. WordPiece encoding with one vocab.txt for both
    wordpiece = WordPieceTokenizer().train(lines, vocab_size=args.vocab_size, min_frequency=2)
    with tempfile.TemporaryDirectory() as tmp:
        vocab_txt = os.path.join(tmp, "vocab.txt")
        wordpiece.save_vocab_file(vocab_txt)

        def encode_ours():
            return WordPieceTokenizer.from_vocab_file(vocab_txt).encode_batch(lines)

        def encode_theirs():
            tok = hf.BertWordPieceTokenizer(vocab_txt, lowercase=True)
            return [e.ids for e in tok.encode_batch(lines, add_special_tokens=False)]

        ours, our_ids = median_seconds(encode_ours, args.repeats)
        n_tokens = sum(map(len, our_ids))
        theirs, their_ids = median_seconds(encode_theirs, args.repeats) if hf else (None, None)
    row("WordPiece encoding", "tokens", n_tokens, ours, theirs)

    # 3. BPE encoding, both libraries with minilm's vocabulary and merges
    def encode_bpe_ours():
        return ByteLevelBPETokenizer(bpe.vocab, merges=bpe.merges).encode_batch(lines)

    def encode_bpe_theirs():
        tok = hf.ByteLevelBPETokenizer(vocab={t: i for i, t in enumerate(bpe.vocab.tokens)}, merges=bpe.merges)
        return [e.ids for e in tok.encode_batch(lines)]

    ours, bpe_ids = median_seconds(encode_bpe_ours, args.repeats)
    theirs, their_bpe_ids = median_seconds(encode_bpe_theirs, args.repeats) if hf else (None, None)
    row("BPE encoding", "tokens", sum(map(len, bpe_ids)), ours, theirs)

    if hf:
        for name, a, b in (("WordPiece", our_ids, their_ids), ("BPE", bpe_ids, their_bpe_ids)):
            same = sum(x == y for x, y in zip(a, b, strict=True))
            print(f"\n{name}: minilm and tokenizers give the same ids on {same:,} of {len(lines):,} lines", end="")
        print()
    print(f"tokens per word: WordPiece {n_tokens / words:.3f}, BPE {sum(map(len, bpe_ids)) / words:.3f}")


if __name__ == "__main__":
    main()
