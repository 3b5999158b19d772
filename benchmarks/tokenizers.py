"""Tokenizers: minilm's pure-Python BPE and WordPiece against Hugging Face's ``tokenizers`` (Rust).

Three measurements on WikiText-2's validation text (``../shared/data/wikitext-2/valid.txt``, or
``--text FILE``), each the median of ``--repeats`` runs, in one process:

1. **Byte-level BPE training** to ``--vocab-size`` tokens (min_frequency 2): input words per second
   (words = whitespace-separated pieces of the text).
2. **WordPiece encoding** (BERT uncased rules) of every line with a vocabulary minilm trained on
   the same text and wrote as a BERT ``vocab.txt``, loaded by both libraries: output tokens per
   second. Each run starts from a freshly loaded tokenizer, so no cache is warm. The share of lines
   on which both libraries give the same tokens is printed too.
3. **Byte-level BPE encoding** with the vocabulary of (1), tokens per second (minilm only: the two
   libraries learn different merges, see ``--help``).

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
    ratio = f"{ours / theirs:8.1f}x" if theirs else f"{'-':>9s}"
    print(f"{what:28s} {unit:>10s} {rate} {other} {ratio}")


def main():
    args = parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    import sys

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
    print(f"{'':28s} {'per second':>10s} {'minilm':>12s} {'tokenizers':>12s} {'minilm/tok':>9s}")
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
            tok = WordPieceTokenizer.from_vocab_file(vocab_txt)
            return [tok.tokenize(line) for line in lines]

        def encode_theirs():
            tok = hf.BertWordPieceTokenizer(vocab_txt, lowercase=True)
            return [e.tokens for e in tok.encode_batch(lines, add_special_tokens=False)]

        ours, our_tokens = median_seconds(encode_ours, args.repeats)
        n_tokens = sum(map(len, our_tokens))
        if hf:
            theirs, their_tokens = median_seconds(encode_theirs, args.repeats)
        else:
            theirs, their_tokens = None, None
    row("WordPiece encoding", "tokens", n_tokens, ours, theirs)

    # 3. BPE encoding
    def encode_bpe():
        tok = ByteLevelBPETokenizer(bpe.vocab, merges=bpe.merges)
        return tok.encode_batch(lines)

    ours, ids = median_seconds(encode_bpe, args.repeats)
    row("BPE encoding", "tokens", sum(map(len, ids)), ours, None)

    if their_tokens is not None:
        same = sum(a == b for a, b in zip(our_tokens, their_tokens, strict=True))
        print(f"\nWordPiece: minilm and tokenizers give the same tokens on {same:,} of {len(lines):,} lines")
    print(f"WordPiece tokens per word: {n_tokens / words:.3f}; BPE tokens per word: {sum(map(len, ids)) / words:.3f}")


if __name__ == "__main__":
    main()
