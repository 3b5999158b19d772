"""The book prints what the code prints: every Python block of a chapter runs (in order, in one
namespace per chapter), and where a ```text block follows it, that block is exactly its output."""

import contextlib
import io
import pathlib
import re

import pytest

import minilm

CHAPTERS = sorted((pathlib.Path(__file__).resolve().parent.parent / "chapters").glob("*.md"))
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(text):
    """(language, code) for every fenced block, in order."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def _normalise(s):
    return "\n".join(line.rstrip() for line in s.strip().splitlines())


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_code_runs_and_prints_what_the_text_shows(path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    bs = blocks(path.read_text(encoding="utf-8"))
    namespace = {"__name__": "__chapter__"}
    minilm.manual_seed(0)  # a reader starts a fresh session; blocks then run in order
    checked = 0
    for i, (lang, code) in enumerate(bs):
        if lang != "python":
            continue
        if "import torch" in code:
            pytest.importorskip("torch")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{path.name} block {i}", "exec"), namespace)
        nxt = bs[i + 1] if i + 1 < len(bs) else None
        if nxt is None or nxt[0] != "text":
            continue
        if "cuda.is_available()" in code and minilm.cuda.is_available():
            continue  # the text shows the CPU-only output
        assert _normalise(out.getvalue()) == _normalise(nxt[1]), f"{path.name}: output of python block {i} differs from the text"
        checked += 1
    assert checked or not any(lang == "python" for lang, _ in bs)
