r"""The plain (Elman) RNN: one step (``rnn_cell``) and a whole sequence with backpropagation
through time (``rnn``), forward and backward derived by hand.

Forward, one step, with ``act`` tanh or relu::

    h = act(x W_ih^T + b_ih + h_prev W_hh^T + b_hh)

Backward, one step, from ``dh = dL/dh`` (for a sequence: the output's gradient plus what came
back from the next step)::

    da      = dh * act'(a)         tanh: 1 - h^2      relu: 1 where h > 0, else 0
    dh_prev = da W_hh

Both derivatives are written with the output ``h`` rather than the pre-activation ``a``, so ``a``
need not be kept. Unrolled over ``T`` steps, ``dL/dh_0`` is a product of ``T`` Jacobians
``diag(act'(a_t)) W_hh``: that product is why gradients through a plain RNN vanish or explode
(chapter 4).

What forward saves for backward: the states ``h`` (T+1, N, H) including ``h0`` (``h_prev`` is what
``W_hh`` multiplied, and ``h`` gives ``act'``), the input ``x`` (a reference) and the weights.
With a mask, the new state at a padded step is the old one, not ``act(a)``, so the candidates
``act(a)`` are kept for ``act'`` too: written over the input projection's buffer, they cost no
extra memory.

The sequence kernel returns the T outputs followed by ``h_n``, stacked as (T+1, N, H). On CuPy each
step's activation and its derivative (with the mask) are one fused ``ElementwiseKernel`` each.
"""

from __future__ import annotations

import functools

import numpy as np

from minilm import backend
from minilm.autograd import Function
from minilm.kernels import recurrence as rec

NONLINEARITIES = ("tanh", "relu")

# ---------------------------------------------------------------------------------------------
# the pointwise step: NumPy, and one fused CuPy kernel each way
# ---------------------------------------------------------------------------------------------


def rnn_step_forward(a, h_prev, nonlinearity, m=None):
    """``(h, candidate, y)``: the activation of ``a`` (N, H) in place, the new state (the old one at
    masked rows), and the output (0 at masked rows)."""
    if nonlinearity == "tanh":
        np.tanh(a, out=a)
    else:
        np.maximum(a, 0, out=a)
    if m is None:
        return a, a, a
    return np.where(m, a, h_prev), a, a * m


def rnn_step_backward(dh, candidate, nonlinearity, m=None):
    """``(da, dh_pass)``: the pre-activation gradient, and the part of dL/dh_prev that skips the
    weights (all of ``dh`` at masked rows; None without a mask)."""
    if nonlinearity == "tanh":
        da = 1 - candidate * candidate
        da *= dh
    else:
        da = dh * (candidate > 0)
    if m is None:
        return da, None
    da *= m
    return da, dh * ~m


@functools.cache
def _cuda(nonlinearity):
    cp = backend.require_cupy()
    act = "tanh(a)" if nonlinearity == "tanh" else "(a > 0 ? a : (T)0)"
    dact = "(1 - hc * hc)" if nonlinearity == "tanh" else "(hc > 0 ? (T)1 : (T)0)"
    forward = cp.ElementwiseKernel(
        "T a, T h_prev, bool m",
        "T h, T candidate, T y",
        f"const T hc = {act}; candidate = hc; h = m ? hc : h_prev; y = m ? hc : (T)0;",
        f"minilm_rnn_{nonlinearity}_step_fwd",
    )
    backward = cp.ElementwiseKernel(
        "T dh, T hc, bool m",
        "T da, T dh_pass",
        f"da = m ? dh * {dact} : (T)0; dh_pass = m ? (T)0 : dh;",
        f"minilm_rnn_{nonlinearity}_step_bwd",
    )
    return forward, backward


def step_forward(a, h_prev, nonlinearity, m):
    """``rnn_step_forward`` on either device (a fused kernel on CuPy)."""
    xp = backend.xp_of(a)
    if xp is np:
        return rnn_step_forward(a, h_prev, nonlinearity, m)
    return _cuda(nonlinearity)[0](a, h_prev, rec.cuda_row_mask(m, a.shape[0], xp))


def step_backward(dh, candidate, nonlinearity, m):
    """``rnn_step_backward`` on either device (a fused kernel on CuPy)."""
    xp = backend.xp_of(dh)
    if xp is np:
        return rnn_step_backward(dh, candidate, nonlinearity, m)
    return _cuda(nonlinearity)[1](dh, candidate, rec.cuda_row_mask(m, dh.shape[0], xp))


# ---------------------------------------------------------------------------------------------
# the Functions
# ---------------------------------------------------------------------------------------------


class RNNCell(Function):
    """One RNN step; returns the new state (N, H)."""

    op_name = "rnn_cell"

    @staticmethod
    def forward(ctx, x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh"):
        N, H = x.shape[0], w_hh.shape[1]
        h = rec.initial_state(h, N, H, x)
        a = x @ w_ih.T
        a += h @ w_hh.T
        for b in (b_ih, b_hh):
            if b is not None:
                a += b
        h1 = step_forward(a, h, nonlinearity, None)[0]
        ctx.save_for_backward(x, h, w_ih, w_hh, h1)
        ctx.nonlinearity = nonlinearity
        return h1

    @staticmethod
    def backward(ctx, g):
        x, h, w_ih, w_hh, h1 = ctx.saved_tensors
        n = ctx.needs_input_grad
        da = step_backward(g, h1, ctx.nonlinearity, None)[0]
        dh = da @ w_hh if n[1] else None
        dx, dw_ih, dw_hh, db_ih, db_hh = rec.gradients_of_step(da, da, x, h, w_ih, (n[0], n[2], n[3], n[4], n[5]))
        return dx, dh, dw_ih, dw_hh, db_ih, db_hh


class RNNSequence(Function):
    """A whole sequence; returns the outputs and ``h_n`` stacked as (T+1, N, H)."""

    op_name = "rnn"

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh", mask=None, reverse=False):
        xp = backend.xp_of(x)
        T, N, _ = x.shape
        H = w_hh.shape[1]
        bias = b_ih if b_hh is None else (b_hh if b_ih is None else b_ih + b_hh)
        a = rec.input_projection(x, w_ih, bias)  # (T, N, H): pre-activations, then candidates
        hs = xp.empty((T + 1, N, H), dtype=x.dtype)
        hs[0] = rec.initial_state(h0, N, H, x)
        out = xp.empty((T + 1, N, H), dtype=x.dtype)
        w_hh_t = w_hh.T
        for k, t in enumerate(rec.steps(T, reverse)):
            m = None if mask is None else mask[t][:, None]
            at = a[t]
            at += hs[k] @ w_hh_t
            hs[k + 1], a[t], out[t] = step_forward(at, hs[k], nonlinearity, m)
        out[T] = hs[T]
        ctx.save_for_backward(x, w_ih, w_hh, hs, a, mask)
        ctx.nonlinearity, ctx.reverse = nonlinearity, reverse
        return out

    @staticmethod
    def backward(ctx, g):
        x, w_ih, w_hh, hs, candidates, mask = ctx.saved_tensors
        T = x.shape[0]
        needs = ctx.needs_input_grad
        das = backend.xp_of(candidates).empty_like(candidates)
        dh = g[T]
        for t in reversed(list(rec.steps(T, ctx.reverse))):
            m = None if mask is None else mask[t][:, None]
            gy = g[t] if m is None else g[t] * m  # a masked step's output is a constant 0
            da, dh_pass = step_backward(dh + gy, candidates[t], ctx.nonlinearity, m)
            das[t] = da
            dh = da @ w_hh
            if dh_pass is not None:
                dh += dh_pass
        h_prev = rec.previous_states(hs, ctx.reverse)
        dx, dw_ih, dw_hh, db_ih, db_hh = rec.gradients_of_weights(
            das, das, x, h_prev, w_ih, (needs[0], needs[2], needs[3], needs[4], needs[5])
        )
        return dx, dh if needs[1] else None, dw_ih, dw_hh, db_ih, db_hh


def _check_nonlinearity(op, nonlinearity):
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"{op}: unknown nonlinearity {nonlinearity!r}; use 'tanh' or 'relu'")


def rnn_cell(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """One RNN step: ``h = act(x W_ih^T + b_ih + h_prev W_hh^T + b_hh)``; ``input`` (N, I), ``hx``
    None (zeros) or (N, H)."""
    _check_nonlinearity("rnn_cell", nonlinearity)
    rec.check_arguments("rnn_cell", input, (("hx", hx),), weight_ih, weight_hh, bias_ih, bias_hh, 1, step=True)
    return RNNCell.apply(input, hx, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity=nonlinearity)


def rnn(input, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh", mask=None, reverse=False):
    """One RNN layer over a time-major sequence ``input`` (T, N, I) in one direction; returns
    ``(output, h_n)`` (see ``lstm.lstm`` for ``mask`` and ``reverse``)."""
    _check_nonlinearity("rnn", nonlinearity)
    rec.check_arguments("rnn", input, (("h0", h0),), weight_ih, weight_hh, bias_ih, bias_hh, 1)
    T, N, _ = input.shape
    mask = rec.check_mask("rnn", mask, T, N, input.device)
    out = RNNSequence.apply(
        input, h0, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity=nonlinearity, mask=mask, reverse=bool(reverse)
    )
    return out[:T], out[T]
