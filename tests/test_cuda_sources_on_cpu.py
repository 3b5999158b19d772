"""The fused CuPy kernels of the recurrent layers and of attention, checked without a GPU.

A CuPy ``ElementwiseKernel`` is a loop body in CUDA C++ that CuPy wraps in a loop over the
elements. Its body is plain C++ arithmetic, so a C++ compiler on the CPU can run it too. This
test puts a stand-in for CuPy in place (``FakeCuPy``): its ``ElementwiseKernel`` writes the same
loop around the same body, compiles it with ``g++`` into a shared library and runs it on NumPy
arrays with CuPy's calling convention (inputs, then outputs; non-raw arguments broadcast to the
output's shape and indexed by the element, ``raw`` ones indexed by the body). Its
``ReductionKernel`` does the same for a reduction along one axis (``map_expr`` per element,
``reduce_expr`` to combine, ``post_map_expr`` to write the result). Then it runs the kernels' CuPy
code path end to end, and compares with their NumPy path.

What this checks: that each kernel body compiles, computes the same numbers as the NumPy code,
and is called with its arguments in the right order. What it cannot check: CUDA
itself (launch, memory, CuPy's type inference); ``pytest -m gpu`` on a GPU machine does that
(tests/test_kernels_gpu.py). Skipped where no ``g++`` is installed.
"""

import ctypes
import hashlib
import re
import shutil
import subprocess

import numpy as np
import pytest

import minilm
from helpers import to_numpy
from minilm import backend
from minilm.kernels import attention as attention_kernel
from minilm.kernels import gru as gru_kernel
from minilm.kernels import lstm as lstm_kernel
from minilm.kernels import rnn as rnn_kernel

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="no g++ to compile the kernel bodies")

C_TYPES = {"float32": "float", "float64": "double", "bool": "bool", "int32": "int"}
# the CUDA math functions the kernel bodies use, taken from C++'s <cmath>
HEADER = "#include <cmath>\n#include <cstddef>\nusing std::exp; using std::tanh; using std::isinf; using std::log;\n"


def _params(spec):
    """[(raw, type, name)] from a CuPy parameter list such as ``"T x, raw T a, int32 H"``."""
    out = []
    for p in spec.split(","):
        words = p.split()
        raw = words[0] == "raw"
        out.append((raw, words[-2], words[-1]))
    return out


class FakeElementwiseKernel:
    def __init__(self, in_params, out_params, operation, name, tmp_path):
        self.ins, self.outs = _params(in_params), _params(out_params)
        self.body, self.name, self.tmp_path = operation, name, tmp_path
        self.libs = {}

    def _source(self, T):
        args, setup = ["long n"], []
        for k, (raw, typ, name) in enumerate(self.ins + self.outs):
            ctype = T if typ == "T" else C_TYPES[typ]
            is_out = k >= len(self.ins)
            if typ == "int32" and not raw:
                args.append(f"int {name}")
                continue
            args.append(f"{ctype}* p{k}")
            if raw:
                setup.append(f"{ctype}* {name} = p{k};")
            elif is_out:
                setup.append(f"{ctype}& {name} = p{k}[i];")
            else:
                setup.append(f"const {ctype} {name} = p{k}[i];")
        return (
            HEADER + f'extern "C" void run({", ".join(args)}) {{\n'
            f"  typedef {T} T;  // CuPy defines T as the array type the same way\n"
            "  for (ptrdiff_t i = 0; i < n; ++i) {\n    "
            + "\n    ".join(setup)
            + "\n    {\n"
            + self.body
            + ";"  # CuPy closes the operation with a semicolon too
            + "\n    }\n  }\n}\n"
        )

    def _lib(self, T):
        if T not in self.libs:
            self.libs[T] = _compile(self._source(T), self.name, self.tmp_path)
        return self.libs[T]

    def __call__(self, *args):
        allocated = len(args) == len(self.ins)
        if allocated:  # CuPy allocates the outputs (shape: the inputs broadcast) when none are raw
            assert not any(raw for raw, _, _ in self.outs), f"{self.name}: raw outputs must be passed"
            inputs = [
                a for (raw, typ, _), a in zip(self.ins, args, strict=True) if not raw and isinstance(a, np.ndarray)
            ]
            shape = np.broadcast_shapes(*(a.shape for a in inputs))
            dtype = next(a.dtype for (_, typ, _), a in zip(self.ins, args, strict=True) if typ == "T")
            args = args + tuple(np.empty(shape, dtype) for _ in self.outs)
        assert len(args) == len(self.ins) + len(self.outs), f"{self.name}: pass all outputs or none"
        params = self.ins + self.outs
        arrays = [a for (raw, typ, _), a in zip(params, args, strict=True) if typ == "T"]
        T = C_TYPES[str(arrays[0].dtype)]
        assert all(C_TYPES[str(a.dtype)] == T for a in arrays), f"{self.name}: T must be one type"
        shape = next(a.shape for (raw, _, _), a in zip(self.outs, args[len(self.ins) :], strict=True) if not raw)
        n = int(np.prod(shape))
        c_args, write_back = [ctypes.c_long(n)], []
        for k, ((raw, typ, name), a) in enumerate(zip(params, args, strict=True)):
            if typ == "int32" and not raw:
                c_args.append(ctypes.c_int(int(a)))
                continue
            if raw:
                assert a.flags.c_contiguous, f"{self.name}: raw argument {name} is not contiguous"
                buf = a
            elif k >= len(self.ins):
                assert a.shape == shape, f"{self.name}: output {name} has shape {a.shape}, expected {shape}"
                buf = np.ascontiguousarray(a)
                write_back.append((a, buf))
            else:
                buf = np.ascontiguousarray(np.broadcast_to(a, shape))  # raises if it does not broadcast
            c_args.append(buf.ctypes.data_as(ctypes.c_void_p))
        self._lib(T).run(*c_args)
        for a, buf in write_back:
            if a is not buf:
                a[...] = buf
        if allocated:
            outs = args[len(self.ins) :]
            return outs[0] if len(outs) == 1 else outs


def _compile(src, name, tmp_path):
    """Compile C++ source ``src`` into a shared library (cached by content) and load it."""
    tag = hashlib.sha1(src.encode()).hexdigest()[:12]
    cpp, so = tmp_path / f"{name}_{tag}.cpp", tmp_path / f"{name}_{tag}.so"
    cpp.write_text(src)
    done = subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-o", str(so), str(cpp)], capture_output=True, text=True)
    assert done.returncode == 0, f"{name} does not compile:\n{done.stderr}"
    return ctypes.CDLL(str(so))


class FakeReductionKernel:
    """CuPy's ``ReductionKernel(in_params, out_params, map_expr, reduce_expr, post_map_expr,
    identity, name)`` on the CPU: the inputs broadcast together, then for each output element
    ``a = identity``; for each element along ``axis``: ``b = map_expr; a = reduce_expr(a, b)``;
    finally ``post_map_expr`` writes the output from ``a``. Only ``T`` (array-typed) parameters
    and an integer ``axis``, as the kernels here use."""

    def __init__(self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, name, tmp_path):
        self.ins, self.outs = _params(in_params), _params(out_params)
        assert len(self.outs) == 1 and not any(raw for raw, _, _ in self.ins + self.outs), f"{name}: unsupported"
        self.map, self.reduce, self.post, self.identity = map_expr, reduce_expr, post_map_expr, identity
        self.name, self.tmp_path = name, tmp_path
        self.libs = {}

    def _lib(self, T):
        if T not in self.libs:
            loads = "\n      ".join(
                f"const {T if typ == 'T' else C_TYPES[typ]} {name} = p{k}[i * K + j];"
                for k, (_, typ, name) in enumerate(self.ins)
            )
            args = ", ".join(f"{T if typ == 'T' else C_TYPES[typ]}* p{k}" for k, (_, typ, name) in enumerate(self.ins))
            out = self.outs[0][2]
            src = (
                HEADER + f'extern "C" void run(long M, long K, {args}, {T}* out) {{\n'
                f"  typedef {T} T;\n"
                "  for (ptrdiff_t i = 0; i < M; ++i) {\n"
                f"    T a = (T)({self.identity});\n"
                "    for (ptrdiff_t j = 0; j < K; ++j) {\n"
                f"      {loads}\n"
                f"      const T b = ({self.map});\n"
                f"      a = ({self.reduce});\n"
                "    }\n"
                f"    T& {out} = out[i];\n"
                f"    {self.post};\n"
                "  }\n}\n"
            )
            self.libs[T] = _compile(src, self.name, self.tmp_path)
        return self.libs[T]

    def __call__(self, *args, axis=None, keepdims=False):
        assert len(args) == len(self.ins), f"{self.name}: pass the inputs only (CuPy allocates the output)"
        assert isinstance(axis, int), f"{self.name}: the fake reduces over one integer axis"
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        shape = np.broadcast_shapes(*(np.shape(a) for a in args))
        dtype = next(np.asarray(a).dtype for (_, typ, _), a in zip(self.ins, args, strict=True) if typ == "T")
        assert all(C_TYPES[str(a.dtype)] == C_TYPES[str(dtype)] for a in arrays), f"{self.name}: T must be one type"
        axis = axis % len(shape)
        bufs = [np.ascontiguousarray(np.moveaxis(np.broadcast_to(a, shape), axis, -1)) for a in args]
        K = shape[axis]
        rest = bufs[0].shape[:-1]
        out = np.empty(rest, dtype)
        c_args = [ctypes.c_long(int(np.prod(rest))), ctypes.c_long(K)]
        c_args += [b.ctypes.data_as(ctypes.c_void_p) for b in bufs] + [out.ctypes.data_as(ctypes.c_void_p)]
        self._lib(C_TYPES[str(dtype)]).run(*c_args)
        return np.expand_dims(out, axis) if keepdims else out


class FakeCuPy:
    """NumPy under another name (so that ``xp is np`` is False), with an ElementwiseKernel that
    compiles its body for the CPU."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path

    def ElementwiseKernel(self, in_params, out_params, operation, name):  # noqa: N802 (CuPy's name)
        return FakeElementwiseKernel(in_params, out_params, operation, name, self.tmp_path)

    def ReductionKernel(self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, name):  # noqa: N802
        return FakeReductionKernel(
            in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, name, self.tmp_path
        )

    def __getattr__(self, name):
        return getattr(np, name)


KERNEL_MODULES = (lstm_kernel, gru_kernel, rnn_kernel, attention_kernel)


@pytest.fixture
def fake_cupy(tmp_path, monkeypatch):
    fake = FakeCuPy(tmp_path)
    monkeypatch.setattr(backend, "require_cupy", lambda: fake)
    for mod in KERNEL_MODULES:
        mod._cuda.cache_clear()
    yield fake
    for mod in KERNEL_MODULES:  # never leave fake kernels in the real caches
        getattr(mod._cuda, "cache_clear", lambda: None)()


def _run(kind, x, h, c, params, mask, reverse, use_fake, fake, monkeypatch):
    """Outputs and gradients of one sequence kernel, through the NumPy or the (faked) CuPy path."""
    leaves = [t for t in (x, h, c, *params) if t is not None]
    for t in leaves:
        t.grad = None
    with monkeypatch.context() as m:
        if use_fake:
            real = backend.xp_of
            m.setattr(backend, "xp_of", lambda a: fake if real(a) is np else real(a))
        if kind == "lstm":
            outs = lstm_kernel.lstm(x, h, c, *params, mask=mask, reverse=reverse)
        elif kind == "gru":
            outs = gru_kernel.gru(x, h, *params, mask=mask, reverse=reverse)
        else:
            outs = rnn_kernel.rnn(x, h, *params, nonlinearity=kind[4:], mask=mask, reverse=reverse)
        flat = minilm.cat([o.reshape(-1) for o in outs])
        w = minilm.tensor(np.random.default_rng(7).standard_normal(flat.shape))
        (flat * w).sum().backward()
    return to_numpy(flat), [to_numpy(t.grad) for t in leaves]


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_fused_kernel_bodies_match_the_numpy_steps(kind, masked, reverse, fake_cupy, monkeypatch):
    rng = np.random.default_rng(0)
    T, N, n_in, H = 5, 3, 4, 7
    G = {"lstm": 4, "gru": 3}.get(kind, 1) * H

    def leaf(*shape):
        return minilm.tensor(rng.standard_normal(shape) * 0.7, requires_grad=True)

    x, h, c = leaf(T, N, n_in), leaf(N, H), leaf(N, H)
    c = c if kind == "lstm" else None
    params = [leaf(G, n_in), leaf(G, H), leaf(G), leaf(G)]
    mask = np.arange(T)[:, None] < np.array([5, 2, 4])[None, :] if masked else None
    y_np, g_np = _run(kind, x, h, c, params, mask, reverse, False, fake_cupy, monkeypatch)
    y_cu, g_cu = _run(kind, x, h, c, params, mask, reverse, True, fake_cupy, monkeypatch)
    np.testing.assert_allclose(y_cu, y_np, rtol=1e-12, atol=1e-14)
    for a, b in zip(g_cu, g_np, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_the_fake_really_runs_the_compiled_bodies(fake_cupy, monkeypatch):
    """Guard against a test that passes because the NumPy path ran twice: a body with a sign
    flipped must make the comparison fail."""
    original = lstm_kernel._cuda.__wrapped__

    def broken():
        forward, backward = original()
        forward.body = re.sub(r"h = m \? go \* tc", "h = m ? -go * tc", forward.body)
        return forward, backward

    monkeypatch.setattr(lstm_kernel, "_cuda", broken)
    rng = np.random.default_rng(1)
    x = minilm.tensor(rng.standard_normal((3, 2, 3)))
    params = [minilm.tensor(rng.standard_normal(s)) for s in [(8, 3), (8, 2), (8,), (8,)]]
    real = backend.xp_of
    with monkeypatch.context() as m:
        m.setattr(backend, "xp_of", lambda a: fake_cupy if real(a) is np else real(a))
        y_fake = to_numpy(lstm_kernel.lstm(x, None, None, *params)[1])
    y_np = to_numpy(lstm_kernel.lstm(x, None, None, *params)[1])
    assert not np.allclose(y_fake, y_np)


# ---------------------------------------------------------------------------------------------
# attention: the fused softmax (sum of exponentials, normalise, dropout) and its backward
# ---------------------------------------------------------------------------------------------


def _attention(q, k, v, mask, kwargs, use_fake, fake, monkeypatch, seed=0):
    """Output, weights and gradients of ``attention_with_weights`` through the NumPy or the
    (faked) CuPy path; the RNG is reseeded so that dropout draws the same numbers in both."""
    leaves = [t for t in (q, k, v, mask) if t is not None and t.requires_grad]
    for t in leaves:
        t.grad = None
    minilm.manual_seed(seed)
    with monkeypatch.context() as m:
        if use_fake:
            real = backend.xp_of
            m.setattr(backend, "xp_of", lambda a: fake if real(a) is np else real(a))
        out, weights = attention_kernel.attention_with_weights(q, k, v, attn_mask=mask, **kwargs)
        w = minilm.tensor(np.random.default_rng(7).standard_normal(out.shape))
        (out * w).sum().backward()
    return [to_numpy(out), to_numpy(weights)] + [to_numpy(t.grad) for t in leaves]


ATTENTION_CASES = {
    "no_mask": ({}, None),
    "bool_mask_with_fully_masked_rows": ({}, "bool"),
    "float_mask_with_grad": ({}, "float"),
    "causal": ({"is_causal": True}, None),
    "dropout": ({"dropout_p": 0.3}, "bool"),
    "dropout_float_mask": ({"dropout_p": 0.5, "scale": 0.7}, "float"),
}


@pytest.mark.parametrize("case", sorted(ATTENTION_CASES))
def test_fused_attention_kernels_match_the_numpy_path(case, fake_cupy, monkeypatch):
    kwargs, mask_kind = ATTENTION_CASES[case]
    rng = np.random.default_rng(3)
    B, H, L, S, E, Ev = 2, 3, 5, 6, 4, 3

    def leaf(*shape, requires_grad=True):
        return minilm.tensor(rng.standard_normal(shape), requires_grad=requires_grad)

    q, k, v = leaf(B, H, L, E), leaf(B, 1, S, E), leaf(B, H, S, Ev)
    mask = None
    if mask_kind == "bool":
        allowed = rng.random((B, 1, L, S)) < 0.6
        allowed[0, 0, 1] = False  # a query that may attend to nothing: output 0, gradient 0
        mask = minilm.tensor(allowed)
    elif mask_kind == "float":
        mask = leaf(L, S)
    ref = _attention(q, k, v, mask, kwargs, False, fake_cupy, monkeypatch)
    got = _attention(q, k, v, mask, kwargs, True, fake_cupy, monkeypatch)
    assert len(got) == len(ref)
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_the_fake_runs_the_attention_kernels(fake_cupy, monkeypatch):
    """A sign flipped in the fused softmax backward must change the gradients (so the comparison
    above really goes through the compiled bodies)."""
    original = attention_kernel._cuda.__wrapped__

    def broken():
        kernels = original()
        kernels["softmax_bwd"].body = kernels["softmax_bwd"].body.replace("- p * r", "+ p * r")
        return kernels

    monkeypatch.setattr(attention_kernel, "_cuda", broken)
    rng = np.random.default_rng(1)
    q, k, v = (minilm.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True) for _ in range(3))
    got = _attention(q, k, v, None, {}, True, fake_cupy, monkeypatch)
    ref = _attention(q, k, v, None, {}, False, fake_cupy, monkeypatch)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-12)  # the forward kernels are intact
    assert not np.allclose(got[2], ref[2])  # dQ goes through the broken backward
