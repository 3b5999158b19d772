"""On a GPU: the fused CuPy kernels give the same values and gradients as the NumPy code path
(skipped when CuPy finds no GPU; run with ``pytest -m gpu``)."""

import numpy as np
import pytest

import minilm
import minilm.nn.functional as F
from helpers import array, to_numpy
from minilm.kernels import gru as gru_k
from minilm.kernels import lstm as lstm_k
from minilm.kernels import rnn as rnn_k

T, N, n_in, H = 7, 5, 6, 33  # H not a multiple of 32: the index arithmetic of the fused kernels must hold anyway
MASK = np.arange(T)[:, None] < np.array([7, 3, 1, 6, 7])[None, :]
LSTM_SHAPES = [(T, N, n_in), (N, H), (N, H), (4 * H, n_in), (4 * H, H), (4 * H,), (4 * H,)]
GRU_SHAPES = [(T, N, n_in), (N, H), (3 * H, n_in), (3 * H, H), (3 * H,), (3 * H,)]
RNN_SHAPES = [(T, N, n_in), (N, H), (H, n_in), (H, H), (H,), (H,)]
# attention: batch 2, heads 3, 7 queries, 9 keys, E = 16, Ev = 5; keys and values shared across heads
QKV_SHAPES = [(2, 3, 7, 16), (2, 1, 9, 16), (2, 1, 9, 5)]
ATTN_ALLOWED = np.random.default_rng(0).random((2, 1, 7, 9)) < 0.6
ATTN_ALLOWED[..., 0] = True
ATTN_ALLOWED[1, 0, 3] = False  # a query that may attend to nothing: output 0, gradient 0
SHIFT = {minilm.float32: 45.0, minilm.float64: 310.0}


def _cat(outputs):
    return minilm.cat([o.reshape(-1) for o in outputs])


pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not minilm.cuda.is_available(), reason="CuPy finds no GPU")]

CASES = {
    "softmax_dim1": (lambda x: F.softmax(x, dim=1), [(7, 33, 5)]),
    "softmax_last": (lambda x: F.softmax(x * 30, dim=-1), [(64, 1000)]),
    "log_softmax": (lambda x: F.log_softmax(x, dim=0), [(33, 7)]),
    "cross_entropy": (
        lambda x: F.cross_entropy(x, minilm.tensor(np.r_[np.arange(50) % 97, [-100] * 14], device=x.device)),
        [(64, 97)],
    ),
    "cross_entropy_smooth_none": (
        lambda x: F.cross_entropy(
            x, minilm.tensor(np.arange(6) % 4, device=x.device).reshape(2, 3), reduction="none", label_smoothing=0.1
        ),
        [(2, 3, 4)],
    ),
    "cross_entropy_all_ignored": (lambda x: F.cross_entropy(x, minilm.full((3,), -100, device=x.device)), [(3, 4)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (256,), w, b), [(8, 16, 256), (256,), (256,)]),
    "layer_norm_no_affine": (lambda x: F.layer_norm(x, (3, 5)), [(4, 3, 5)]),
    "embedding": (
        lambda w: F.embedding(minilm.tensor([[1, 1, 3], [0, 9, 1]], device=w.device), w, padding_idx=0),
        [(10, 8)],
    ),
    "gelu": (lambda x: F.gelu(x * 3), [(50, 40)]),
    "gelu_tanh": (lambda x: F.gelu(x * 3, approximate="tanh"), [(50, 40)]),
    "erf": (lambda x: minilm.erf(x * 3), [(50, 40)]),
    "linear": (lambda x, w, b: F.linear(x, w, b), [(4, 5, 6), (3, 6), (3,)]),
    # the recurrent kernels: the fused step kernels against the NumPy steps, with a length mask and
    # both directions; the outputs and final states are concatenated into one result
    "lstm_masked": (lambda x, h, c, wi, wh, bi, bh: _cat(lstm_k.lstm(x, h, c, wi, wh, bi, bh, mask=MASK)), LSTM_SHAPES),
    "lstm_reverse": (
        lambda x, h, c, wi, wh, bi, bh: _cat(lstm_k.lstm(x, h, c, wi, wh, bi, bh, reverse=True)),
        LSTM_SHAPES,
    ),
    "lstm_cell": (lambda x, h, c, wi, wh, bi, bh: _cat(lstm_k.lstm_cell(x[0], (h, c), wi, wh, bi, bh)), LSTM_SHAPES),
    "gru_masked_reverse": (
        lambda x, h, wi, wh, bi, bh: _cat(gru_k.gru(x, h, wi, wh, bi, bh, mask=MASK, reverse=True)),
        GRU_SHAPES,
    ),
    "gru": (lambda x, h, wi, wh, bi, bh: _cat(gru_k.gru(x, h, wi, wh, bi, bh)), GRU_SHAPES),
    "gru_cell": (lambda x, h, wi, wh, bi, bh: gru_k.gru_cell(x[0], h, wi, wh, bi, bh), GRU_SHAPES),
    "rnn_tanh_masked": (lambda x, h, wi, wh, bi, bh: _cat(rnn_k.rnn(x, h, wi, wh, bi, bh, mask=MASK)), RNN_SHAPES),
    "rnn_relu_reverse": (
        lambda x, h, wi, wh, bi, bh: _cat(rnn_k.rnn(x, h, wi, wh, bi, bh, nonlinearity="relu", reverse=True)),
        RNN_SHAPES,
    ),
    # attention: the fused masked softmax and its backward against the NumPy path (which takes the
    # softmax without the row maximum when it can, the classic one for large scores or a row with
    # no key to attend to)
    "sdpa": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v), QKV_SHAPES),
    "sdpa_bool_mask_fully_masked_row": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, minilm.tensor(ATTN_ALLOWED, device=q.device)),
        QKV_SHAPES,
    ),
    "sdpa_float_mask": (
        lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m, scale=0.3),
        QKV_SHAPES + [(7, 9)],
    ),
    "sdpa_causal_with_weights": (lambda q, k, v: _cat(F.attention_with_weights(q, k, v, is_causal=True)), QKV_SHAPES),
    # a constant added to every score changes no probability, but past +40 (float32) or +300
    # (float64) it puts the NumPy path on its classic softmax
    "sdpa_shifted_scores": (
        lambda q, k, v: F.scaled_dot_product_attention(
            q, k, v, minilm.full((7, 9), SHIFT[q.dtype], dtype=q.dtype, device=q.device)
        ),
        QKV_SHAPES,
    ),
}


def _run(fn, arrays, device, dtype):
    xs = [minilm.tensor(a.astype(dtype), device=device, requires_grad=True) for a in arrays]
    out = fn(*xs)
    w = minilm.tensor(array("cpu", out.shape, seed=5).astype(dtype), device=device)
    (out * w).sum().backward()
    return to_numpy(out.detach()), [to_numpy(x.grad) for x in xs]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_cupy_kernel_matches_numpy(name, dtype):
    fn, shapes = CASES[name]
    arrays = [array("cpu", s, seed=i) for i, s in enumerate(shapes)]
    y_cpu, g_cpu = _run(fn, arrays, "cpu", dtype)
    y_gpu, g_gpu = _run(fn, arrays, "cuda", dtype)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(y_gpu, y_cpu, rtol=tol, atol=tol)
    for a, b in zip(g_gpu, g_cpu):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_cupy_dropout_mask_is_reused_in_backward():
    x = minilm.ones(300, 300, device="cuda", requires_grad=True)
    y = F.dropout(x, 0.2)
    y.sum().backward()
    yv, gv = to_numpy(y), to_numpy(x.grad)
    np.testing.assert_array_equal(yv, gv)  # x = 1, so y and dy/dx are both mask / (1 - p)
    assert abs((yv == 0).mean() - 0.2) < 0.01


def test_cupy_embedding_rejects_out_of_range_ids():
    w = minilm.randn(5, 3, device="cuda")
    with pytest.raises(IndexError, match="id 5 is outside the table of 5 embeddings"):
        F.embedding(minilm.tensor([5], device="cuda"), w)
    with pytest.raises(IndexError, match="target 7 is out of range for 4 classes"):
        F.cross_entropy(minilm.randn(1, 4, device="cuda"), minilm.tensor([7], device="cuda"))
