r"""The LSTM: one step (``lstm_cell``) and a whole sequence with backpropagation through time
(``lstm``), forward and backward derived by hand.

Forward, one step, gates in PyTorch's order i, f, g, o (rows ``k H .. (k+1) H`` of ``W_ih``,
``W_hh`` and the biases)::

    a = x W_ih^T + b_ih + h_prev W_hh^T + b_hh          (N, 4H)   a = [a_i | a_f | a_g | a_o]
    i = sigmoid(a_i)   f = sigmoid(a_f)   g = tanh(a_g)   o = sigmoid(a_o)
    c = f * c_prev + i * g
    h = o * tanh(c)

Backward, one step. ``dh`` and ``dc`` are dL/dh and dL/dc (for a sequence, ``dh`` is the output's
gradient plus what came back from the next step, and ``dc`` came back from the next step)::

    dc~  = dc + dh * o * (1 - tanh(c)^2)          all of dL/dc: directly, and through h
    da_o = dh * tanh(c) * o (1 - o)               sigmoid' = s (1 - s)
    da_i = dc~ * g * i (1 - i)
    da_f = dc~ * c_prev * f (1 - f)
    da_g = dc~ * i * (1 - g^2)                    tanh' = 1 - tanh^2
    dc_prev = dc~ * f                             the cell's "gradient highway": a product of f's
    dh_prev = da W_hh                             (N, 4H) x (4H, H)

and the weight gradients of all steps at once (``recurrence.gradients_of_weights``). Every
derivative above is written in terms of the *outputs* of the nonlinearities, so backward needs no
pre-activation at all.

What forward saves for backward, and why:

- the activated gates ``i, f, g, o`` of every step, (T, N, 4H): all four appear in the derivatives;
  they are written over the input projection's buffer, so they cost no extra memory;
- ``tanh(c)`` of every step, (T, N, H): needed for ``da_o`` and ``dc~``; saving it costs T*N*H
  numbers and saves recomputing a tanh per step in backward;
- the cell states ``c`` (T+1, N, H) including ``c0``: ``c_prev`` appears in ``da_f``;
- the hidden states ``h`` (T+1, N, H) including ``h0``: ``h_prev`` is what ``W_hh`` multiplied, so
  ``dW_hh`` needs it;
- the input ``x`` (a reference, not a copy) for ``dW_ih``, and the weights.

Not saved: the pre-activations ``a`` (the derivatives use the outputs instead) and ``h = o tanh(c)``
separately from the states.

The sequence kernel returns one array: the T outputs followed by ``h_n`` and ``c_n``, stacked on
the time axis (T+2, N, H); ``lstm`` splits it. A Function has one output, and this way the final
states are differentiable outputs like the rest. On CuPy each step's pointwise forward and backward
is one fused ``ElementwiseKernel`` (``_cuda``) that reads the four gate pre-activations of an
element and writes everything else in one pass; on NumPy the same formulas are a handful of
in-place array operations.
"""

from __future__ import annotations

import functools

import numpy as np

from minilm import backend
from minilm.autograd import Function
from minilm.kernels import recurrence as rec

# ---------------------------------------------------------------------------------------------
# the pointwise step, NumPy
# ---------------------------------------------------------------------------------------------


def sigmoid_(a):
    """The logistic sigmoid in place, as ``(1 + tanh(a/2)) / 2``: the same function, one
    transcendental call, and no overflow for very negative ``a`` (``e^-a`` would overflow)."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def lstm_step_forward(a, c_prev, h_prev, m=None):
    """One step's pointwise forward on NumPy. ``a`` (N, 4H) holds the gate pre-activations and is
    overwritten with the activations i, f, g, o. Returns ``(h, c, tanh_c, y)``: the new states
    (carried over where the step is masked), ``tanh`` of the candidate cell, and the output
    (``h``, or 0 where masked). ``m`` is None or an (N, 1) boolean mask."""
    H = c_prev.shape[1]
    sigmoid_(a[:, : 2 * H])
    np.tanh(a[:, 2 * H : 3 * H], out=a[:, 2 * H : 3 * H])
    sigmoid_(a[:, 3 * H :])
    i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
    c = f * c_prev
    c += i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    if m is None:
        return h, c, tanh_c, h
    return np.where(m, h, h_prev), np.where(m, c, c_prev), tanh_c, h * m


def lstm_step_backward(dh, dc, act, c_prev, tanh_c, m=None):
    """One step's pointwise backward on NumPy: from dL/dh and dL/dc of the step's states to
    ``(da, dc_prev, dh_pass)``: the gate pre-activation gradients (N, 4H), dL/dc_prev, and the part
    of dL/dh_prev that skips the gates (``dh`` at masked rows, else None/0). ``act`` holds i, f, g, o."""
    H = c_prev.shape[1]
    i, f, g, o = act[:, :H], act[:, H : 2 * H], act[:, 2 * H : 3 * H], act[:, 3 * H :]
    dh_pass = dc_pass = None
    if m is not None:
        dh_pass, dc_pass = dh * ~m, dc * ~m
        dh, dc = dh * m, dc * m
    da = np.empty_like(act)
    t = o * dh  # dc~ = dc + dh * o * (1 - tanh_c^2)
    dct = tanh_c * tanh_c
    np.subtract(1, dct, out=dct)
    dct *= t
    dct += dc
    # da_o = dh * tanh_c * o (1 - o) = t * tanh_c * (1 - o)
    np.subtract(1, o, out=da[:, 3 * H :])
    da[:, 3 * H :] *= t
    da[:, 3 * H :] *= tanh_c
    # da_i = dc~ * g * i (1 - i)
    np.subtract(1, i, out=da[:, :H])
    da[:, :H] *= i
    da[:, :H] *= g
    da[:, :H] *= dct
    # da_f = dc~ * c_prev * f (1 - f)
    np.subtract(1, f, out=da[:, H : 2 * H])
    da[:, H : 2 * H] *= f
    da[:, H : 2 * H] *= c_prev
    da[:, H : 2 * H] *= dct
    # da_g = dc~ * i * (1 - g^2)
    np.multiply(g, g, out=da[:, 2 * H : 3 * H])
    np.subtract(1, da[:, 2 * H : 3 * H], out=da[:, 2 * H : 3 * H])
    da[:, 2 * H : 3 * H] *= i
    da[:, 2 * H : 3 * H] *= dct
    dct *= f  # dc_prev
    if dc_pass is not None:
        dct += dc_pass
    return da, dct, dh_pass


# ---------------------------------------------------------------------------------------------
# the pointwise step, CuPy: one fused kernel each way
# ---------------------------------------------------------------------------------------------


@functools.cache
def _cuda():
    cp = backend.require_cupy()
    forward = cp.ElementwiseKernel(
        "T c_prev, T h_prev, bool m, int32 H",
        "T h, T c, T tanh_c, T y, raw T a",
        """
        const ptrdiff_t k = (i / H) * 4 * H + (i % H);
        const T gi = 1 / (1 + exp(-a[k]));
        const T gf = 1 / (1 + exp(-a[k + H]));
        const T gg = tanh(a[k + 2 * H]);
        const T go = 1 / (1 + exp(-a[k + 3 * H]));
        a[k] = gi; a[k + H] = gf; a[k + 2 * H] = gg; a[k + 3 * H] = go;
        const T cc = gf * c_prev + gi * gg;
        const T tc = tanh(cc);
        tanh_c = tc;
        c = m ? cc : c_prev;
        h = m ? go * tc : h_prev;
        y = m ? go * tc : (T)0;
        """,
        "minilm_lstm_step_fwd",
    )
    backward = cp.ElementwiseKernel(
        "T dh, T dc, T c_prev, T tanh_c, bool m, int32 H, raw T act",
        "T dc_prev, T dh_pass, raw T da",
        """
        const ptrdiff_t k = (i / H) * 4 * H + (i % H);
        if (m) {
            const T gi = act[k], gf = act[k + H], gg = act[k + 2 * H], go = act[k + 3 * H];
            const T dct = dc + dh * go * (1 - tanh_c * tanh_c);
            da[k] = dct * gg * gi * (1 - gi);
            da[k + H] = dct * c_prev * gf * (1 - gf);
            da[k + 2 * H] = dct * gi * (1 - gg * gg);
            da[k + 3 * H] = dh * tanh_c * go * (1 - go);
            dc_prev = dct * gf;
            dh_pass = 0;
        } else {
            da[k] = 0; da[k + H] = 0; da[k + 2 * H] = 0; da[k + 3 * H] = 0;
            dc_prev = dc;
            dh_pass = dh;
        }
        """,
        "minilm_lstm_step_bwd",
    )
    return forward, backward


def step_forward(a, c_prev, h_prev, m):
    """``lstm_step_forward`` on either device (the fused kernel on CuPy)."""
    if backend.xp_of(a) is np:
        return lstm_step_forward(a, c_prev, h_prev, m)
    N, H = c_prev.shape
    xp = backend.xp_of(a)
    h, c, tanh_c, y = (xp.empty_like(c_prev) for _ in range(4))
    _cuda()[0](c_prev, h_prev, rec.cuda_row_mask(m, N, xp), np.int32(H), h, c, tanh_c, y, a)
    return h, c, tanh_c, y


def step_backward(dh, dc, act, c_prev, tanh_c, m):
    """``lstm_step_backward`` on either device (the fused kernel on CuPy)."""
    if backend.xp_of(act) is np:
        return lstm_step_backward(dh, dc, act, c_prev, tanh_c, m)
    N, H = c_prev.shape
    xp = backend.xp_of(act)
    da, dc_prev, dh_pass = xp.empty_like(act), xp.empty_like(c_prev), xp.empty_like(c_prev)
    _cuda()[1](dh, dc, c_prev, tanh_c, rec.cuda_row_mask(m, N, xp), np.int32(H), act, dc_prev, dh_pass, da)
    return da, dc_prev, dh_pass


# ---------------------------------------------------------------------------------------------
# the Functions
# ---------------------------------------------------------------------------------------------


def _add(a, b):
    return a if b is None else a + b


class LSTMCell(Function):
    """One LSTM step; returns ``(h, c)`` stacked as a (2, N, H) array."""

    op_name = "lstm_cell"

    @staticmethod
    def forward(ctx, x, h, c, w_ih, w_hh, b_ih, b_hh):
        N, H = x.shape[0], w_hh.shape[1]
        h = rec.initial_state(h, N, H, x)
        c = rec.initial_state(c, N, H, x)
        a = x @ w_ih.T
        a += h @ w_hh.T
        for b in (b_ih, b_hh):
            if b is not None:
                a += b
        h1, c1, tanh_c, _ = step_forward(a, c, h, None)
        ctx.save_for_backward(x, h, c, w_ih, w_hh, a, tanh_c)
        return backend.xp_of(x).stack([h1, c1])

    @staticmethod
    def backward(ctx, g):
        x, h, c, w_ih, w_hh, act, tanh_c = ctx.saved_tensors
        n = ctx.needs_input_grad
        da, dc_prev, _ = step_backward(g[0], g[1], act, c, tanh_c, None)
        dh = da @ w_hh if n[1] else None
        dx, dw_ih, dw_hh, db_ih, db_hh = rec.gradients_of_step(da, da, x, h, w_ih, (n[0], n[3], n[4], n[5], n[6]))
        return dx, dh, dc_prev if n[2] else None, dw_ih, dw_hh, db_ih, db_hh


class LSTMSequence(Function):
    """A whole sequence; returns the outputs, ``h_n`` and ``c_n`` stacked as (T+2, N, H)."""

    op_name = "lstm"

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, mask=None, reverse=False):
        xp = backend.xp_of(x)
        T, N, _ = x.shape
        H = w_hh.shape[1]
        bias = b_ih if b_hh is None else (b_hh if b_ih is None else b_ih + b_hh)
        act = rec.input_projection(x, w_ih, bias)  # (T, N, 4H): pre-activations, then activations
        hs = xp.empty((T + 1, N, H), dtype=x.dtype)  # states in the order computed
        cs = xp.empty((T + 1, N, H), dtype=x.dtype)
        hs[0] = rec.initial_state(h0, N, H, x)
        cs[0] = rec.initial_state(c0, N, H, x)
        tanh_cs = xp.empty((T, N, H), dtype=x.dtype)
        out = xp.empty((T + 2, N, H), dtype=x.dtype)
        w_hh_t = w_hh.T
        for k, t in enumerate(rec.steps(T, reverse)):
            m = None if mask is None else mask[t][:, None]
            a = act[t]
            a += hs[k] @ w_hh_t
            hs[k + 1], cs[k + 1], tanh_cs[t], out[t] = step_forward(a, cs[k], hs[k], m)
        out[T] = hs[T]
        out[T + 1] = cs[T]
        ctx.save_for_backward(x, w_ih, w_hh, act, hs, cs, tanh_cs, mask)
        ctx.reverse = reverse
        return out

    @staticmethod
    def backward(ctx, g):
        x, w_ih, w_hh, act, hs, cs, tanh_cs, mask = ctx.saved_tensors
        reverse = ctx.reverse
        T = x.shape[0]
        needs = ctx.needs_input_grad
        dact = backend.xp_of(act).empty_like(act)
        dh = g[T]  # dL/dh_n and dL/dc_n start the recursion
        dc = g[T + 1]
        for k, t in reversed(list(enumerate(rec.steps(T, reverse)))):
            m = None if mask is None else mask[t][:, None]
            gy = g[t] if m is None else g[t] * m  # a masked step's output is a constant 0
            da, dc, dh_pass = step_backward(dh + gy, dc, act[t], cs[k], tanh_cs[t], m)
            dact[t] = da
            dh = _add(da @ w_hh, dh_pass)
        h_prev = rec.previous_states(hs, reverse)
        dx, dw_ih, dw_hh, db_ih, db_hh = rec.gradients_of_weights(
            dact, dact, x, h_prev, w_ih, (needs[0], needs[3], needs[4], needs[5], needs[6])
        )
        return dx, dh if needs[1] else None, dc if needs[2] else None, dw_ih, dw_hh, db_ih, db_hh


def lstm_cell(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One LSTM step: ``(h, c) = lstm_cell(x, (h_prev, c_prev), W_ih, W_hh, b_ih, b_hh)``.
    ``input`` (N, I); ``hx`` None (zeros) or a pair of (N, H) tensors."""
    h, c = (None, None) if hx is None else hx
    rec.check_arguments("lstm_cell", input, (("h", h), ("c", c)), weight_ih, weight_hh, bias_ih, bias_hh, 4, step=True)
    out = LSTMCell.apply(input, h, c, weight_ih, weight_hh, bias_ih, bias_hh)
    return out[0], out[1]


def lstm(input, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, mask=None, reverse=False):
    """One LSTM layer over a time-major sequence ``input`` (T, N, I) in one direction.

    Returns ``(output, h_n, c_n)``: output (T, N, H) (0 at masked steps), and the final states
    (N, H). ``h0``/``c0``: None (zeros) or (N, H) tensors, differentiable. ``mask``: None or a
    boolean (T, N) array, True at real steps (see ``recurrence``). ``reverse=True`` runs from the
    last step to the first."""
    rec.check_arguments("lstm", input, (("h0", h0), ("c0", c0)), weight_ih, weight_hh, bias_ih, bias_hh, 4)
    T, N, _ = input.shape
    mask = rec.check_mask("lstm", mask, T, N, input.device)
    out = LSTMSequence.apply(input, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, mask=mask, reverse=bool(reverse))
    return out[:T], out[T], out[T + 1]
