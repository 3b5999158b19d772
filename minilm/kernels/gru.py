r"""The GRU: one step (``gru_cell``) and a whole sequence with backpropagation through time
(``gru``), forward and backward derived by hand.

Forward, one step, gates in PyTorch's order r, z, n (rows ``k H .. (k+1) H``)::

    gi = x W_ih^T + b_ih                 (N, 3H)  = [gi_r | gi_z | gi_n]
    gh = h_prev W_hh^T + b_hh            (N, 3H)  = [gh_r | gh_z | gh_n]
    r = sigmoid(gi_r + gh_r)             reset gate
    z = sigmoid(gi_z + gh_z)             update gate
    n = tanh(gi_n + r * gh_n)            candidate; note b_hn sits INSIDE the reset product
    h = (1 - z) * n + z * h_prev         = n + z * (h_prev - n)

Unlike the LSTM, the input's and the state's shares of the candidate are not simply added (``r``
multiplies only the state's), so the two halves of the gate gradient differ.

Backward, one step, from ``dh = dL/dh``::

    dn   = dh * (1 - z)
    dz   = dh * (h_prev - n)
    da_n = dn * (1 - n^2)                         gradient of gi_n + r * gh_n
    da_r = da_n * gh_n * r (1 - r)
    da_z = dz * z (1 - z)
    dgi  = [da_r | da_z | da_n]                   gradient of gi
    dgh  = [da_r | da_z | da_n * r]               gradient of gh: the candidate's part is scaled by r
    dh_prev = dh * z + dgh W_hh                   directly through the update, and through the gates

What forward saves for backward, and why:

- ``r, z, n`` of every step, (T, N, 3H), written over the input projection's buffer (no extra memory):
  all three appear in the derivatives;
- ``gh_n = h_prev W_hn^T + b_hn`` of every step, (T, N, H): the reset gate multiplies it, so
  ``da_r`` needs it; it cannot be rebuilt from ``r, z, n`` without another matrix product;
- the hidden states (T+1, N, H) including ``h0``: ``h_prev`` appears in ``dz`` and is what ``W_hh``
  multiplied;
- the input ``x`` (a reference) for ``dW_ih``, and the weights.

The sequence kernel returns the T outputs followed by ``h_n``, stacked as (T+1, N, H); ``gru``
splits them. On CuPy each step's pointwise forward and backward is one fused ``ElementwiseKernel``.
"""

from __future__ import annotations

import functools

import numpy as np

from minilm import backend
from minilm.autograd import Function
from minilm.kernels import recurrence as rec
from minilm.kernels.lstm import sigmoid_

# ---------------------------------------------------------------------------------------------
# the pointwise step, NumPy
# ---------------------------------------------------------------------------------------------


def gru_step_forward(gi, gh, h_prev, m=None):
    """One step's pointwise forward on NumPy. ``gi`` (N, 3H) is the input's share and is
    overwritten with r, z, n; ``gh`` (N, 3H) the state's share including ``b_hh``. Returns
    ``(h, gh_n, y)``: the new state (carried over at masked rows), the saved ``gh_n`` and the
    output (0 at masked rows)."""
    H = h_prev.shape[1]
    rz = gi[:, : 2 * H]
    rz += gh[:, : 2 * H]
    sigmoid_(rz)
    r, z, n = gi[:, :H], gi[:, H : 2 * H], gi[:, 2 * H :]
    gh_n = gh[:, 2 * H :]
    n += r * gh_n
    np.tanh(n, out=n)
    h = h_prev - n  # h = n + z * (h_prev - n)
    h *= z
    h += n
    if m is None:
        return h, gh_n, h
    return np.where(m, h, h_prev), gh_n, h * m


def gru_step_backward(dh, act, gh_n, h_prev, m=None):
    """One step's pointwise backward on NumPy: ``(dgi, dgh, dh_direct)`` from ``dh = dL/dh``;
    ``act`` holds r, z, n. ``dh_direct`` is the part of dL/dh_prev that does not go through
    ``W_hh`` (``dh * z``, and all of ``dh`` at masked rows)."""
    H = h_prev.shape[1]
    r, z, n = act[:, :H], act[:, H : 2 * H], act[:, 2 * H :]
    dh_masked = None
    if m is not None:
        dh_masked = dh * ~m
        dh = dh * m
    dgi = np.empty_like(act)
    dgh = np.empty_like(act)
    da_n = dgi[:, 2 * H :]
    np.multiply(n, n, out=da_n)  # da_n = dh (1 - z) (1 - n^2)
    np.subtract(1, da_n, out=da_n)
    da_n *= dh
    da_n *= 1 - z
    np.multiply(da_n, r, out=dgh[:, 2 * H :])
    da_r = dgi[:, :H]  # da_r = da_n gh_n r (1 - r)
    np.subtract(1, r, out=da_r)
    da_r *= r
    da_r *= gh_n
    da_r *= da_n
    da_z = dgi[:, H : 2 * H]  # da_z = dh (h_prev - n) z (1 - z)
    np.subtract(1, z, out=da_z)
    da_z *= z
    da_z *= h_prev - n
    da_z *= dh
    dgh[:, : 2 * H] = dgi[:, : 2 * H]
    dh_direct = dh * z
    if dh_masked is not None:
        dh_direct += dh_masked
    return dgi, dgh, dh_direct


# ---------------------------------------------------------------------------------------------
# the pointwise step, CuPy: one fused kernel each way
# ---------------------------------------------------------------------------------------------


@functools.cache
def _cuda():
    cp = backend.require_cupy()
    forward = cp.ElementwiseKernel(
        "T h_prev, bool m, int32 H, raw T gh",
        "T h, T gh_n, T y, raw T gi",
        """
        const ptrdiff_t k = (i / H) * 3 * H + (i % H);
        const T r = 1 / (1 + exp(-(gi[k] + gh[k])));
        const T z = 1 / (1 + exp(-(gi[k + H] + gh[k + H])));
        const T hn = gh[k + 2 * H];
        const T n = tanh(gi[k + 2 * H] + r * hn);
        gi[k] = r; gi[k + H] = z; gi[k + 2 * H] = n;
        gh_n = hn;
        const T hc = n + z * (h_prev - n);
        h = m ? hc : h_prev;
        y = m ? hc : (T)0;
        """,
        "minilm_gru_step_fwd",
    )
    backward = cp.ElementwiseKernel(
        "T dh, T gh_n, T h_prev, bool m, int32 H, raw T act",
        "T dh_direct, raw T dgi, raw T dgh",
        """
        const ptrdiff_t k = (i / H) * 3 * H + (i % H);
        if (m) {
            const T r = act[k], z = act[k + H], n = act[k + 2 * H];
            const T da_n = dh * (1 - z) * (1 - n * n);
            const T da_r = da_n * gh_n * r * (1 - r);
            const T da_z = dh * (h_prev - n) * z * (1 - z);
            dgi[k] = da_r; dgi[k + H] = da_z; dgi[k + 2 * H] = da_n;
            dgh[k] = da_r; dgh[k + H] = da_z; dgh[k + 2 * H] = da_n * r;
            dh_direct = dh * z;
        } else {
            dgi[k] = 0; dgi[k + H] = 0; dgi[k + 2 * H] = 0;
            dgh[k] = 0; dgh[k + H] = 0; dgh[k + 2 * H] = 0;
            dh_direct = dh;
        }
        """,
        "minilm_gru_step_bwd",
    )
    return forward, backward


def step_forward(gi, gh, h_prev, m):
    """``gru_step_forward`` on either device (the fused kernel on CuPy)."""
    if backend.xp_of(gi) is np:
        return gru_step_forward(gi, gh, h_prev, m)
    N, H = h_prev.shape
    xp = backend.xp_of(gi)
    h, gh_n, y = (xp.empty_like(h_prev) for _ in range(3))
    _cuda()[0](h_prev, rec.cuda_row_mask(m, N, xp), np.int32(H), gh, h, gh_n, y, gi)
    return h, gh_n, y


def step_backward(dh, act, gh_n, h_prev, m):
    """``gru_step_backward`` on either device (the fused kernel on CuPy)."""
    if backend.xp_of(act) is np:
        return gru_step_backward(dh, act, gh_n, h_prev, m)
    N, H = h_prev.shape
    xp = backend.xp_of(act)
    dgi, dgh, dh_direct = xp.empty_like(act), xp.empty_like(act), xp.empty_like(h_prev)
    _cuda()[1](dh, gh_n, h_prev, rec.cuda_row_mask(m, N, xp), np.int32(H), act, dh_direct, dgi, dgh)
    return dgi, dgh, dh_direct


# ---------------------------------------------------------------------------------------------
# the Functions
# ---------------------------------------------------------------------------------------------


def _state_share(h, w_hh, b_hh):
    gh = h @ w_hh.T
    if b_hh is not None:
        gh += b_hh
    return gh


class GRUCell(Function):
    """One GRU step; returns the new state (N, H)."""

    op_name = "gru_cell"

    @staticmethod
    def forward(ctx, x, h, w_ih, w_hh, b_ih, b_hh):
        N, H = x.shape[0], w_hh.shape[1]
        h = rec.initial_state(h, N, H, x)
        gi = x @ w_ih.T
        if b_ih is not None:
            gi += b_ih
        h1, gh_n, _ = step_forward(gi, _state_share(h, w_hh, b_hh), h, None)
        ctx.save_for_backward(x, h, w_ih, w_hh, gi, gh_n)
        return h1

    @staticmethod
    def backward(ctx, g):
        x, h, w_ih, w_hh, act, gh_n = ctx.saved_tensors
        n = ctx.needs_input_grad
        dgi, dgh, dh_direct = step_backward(g, act, gh_n, h, None)
        dh = dh_direct + dgh @ w_hh if n[1] else None
        dx, dw_ih, dw_hh, db_ih, db_hh = rec.gradients_of_step(dgi, dgh, x, h, w_ih, (n[0], n[2], n[3], n[4], n[5]))
        return dx, dh, dw_ih, dw_hh, db_ih, db_hh


class GRUSequence(Function):
    """A whole sequence; returns the outputs and ``h_n`` stacked as (T+1, N, H)."""

    op_name = "gru"

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, mask=None, reverse=False):
        xp = backend.xp_of(x)
        T, N, _ = x.shape
        H = w_hh.shape[1]
        act = rec.input_projection(x, w_ih, b_ih)  # (T, N, 3H): gi, then r, z, n
        hs = xp.empty((T + 1, N, H), dtype=x.dtype)
        hs[0] = rec.initial_state(h0, N, H, x)
        gh_ns = xp.empty((T, N, H), dtype=x.dtype)
        out = xp.empty((T + 1, N, H), dtype=x.dtype)
        for k, t in enumerate(rec.steps(T, reverse)):
            m = None if mask is None else mask[t][:, None]
            hs[k + 1], gh_ns[t], out[t] = step_forward(act[t], _state_share(hs[k], w_hh, b_hh), hs[k], m)
        out[T] = hs[T]
        ctx.save_for_backward(x, w_ih, w_hh, act, gh_ns, hs, mask)
        ctx.reverse = reverse
        return out

    @staticmethod
    def backward(ctx, g):
        x, w_ih, w_hh, act, gh_ns, hs, mask = ctx.saved_tensors
        reverse = ctx.reverse
        T = x.shape[0]
        needs = ctx.needs_input_grad
        xp = backend.xp_of(act)
        dgis, dghs = xp.empty_like(act), xp.empty_like(act)
        dh = g[T]
        for k, t in reversed(list(enumerate(rec.steps(T, reverse)))):
            m = None if mask is None else mask[t][:, None]
            gy = g[t] if m is None else g[t] * m  # a masked step's output is a constant 0
            dgi, dgh, dh_direct = step_backward(dh + gy, act[t], gh_ns[t], hs[k], m)
            dgis[t], dghs[t] = dgi, dgh
            dh = dh_direct + dgh @ w_hh
        h_prev = rec.previous_states(hs, reverse)
        dx, dw_ih, dw_hh, db_ih, db_hh = rec.gradients_of_weights(
            dgis, dghs, x, h_prev, w_ih, (needs[0], needs[2], needs[3], needs[4], needs[5])
        )
        return dx, dh if needs[1] else None, dw_ih, dw_hh, db_ih, db_hh


def gru_cell(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One GRU step: ``h = gru_cell(x, h_prev, W_ih, W_hh, b_ih, b_hh)``; ``input`` (N, I), ``hx``
    None (zeros) or (N, H)."""
    rec.check_arguments("gru_cell", input, (("hx", hx),), weight_ih, weight_hh, bias_ih, bias_hh, 3, step=True)
    return GRUCell.apply(input, hx, weight_ih, weight_hh, bias_ih, bias_hh)


def gru(input, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, mask=None, reverse=False):
    """One GRU layer over a time-major sequence ``input`` (T, N, I) in one direction; returns
    ``(output, h_n)`` (see ``lstm.lstm`` for ``mask`` and ``reverse``)."""
    rec.check_arguments("gru", input, (("h0", h0),), weight_ih, weight_hh, bias_ih, bias_hh, 3)
    T, N, _ = input.shape
    mask = rec.check_mask("gru", mask, T, N, input.device)
    out = GRUSequence.apply(input, h0, weight_ih, weight_hh, bias_ih, bias_hh, mask=mask, reverse=bool(reverse))
    return out[:T], out[T]
