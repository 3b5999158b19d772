r"""What the three recurrent kernels (``rnn.py``, ``lstm.py``, ``gru.py``) share: argument checks,
the length mask, the input projection and the weight gradients of backpropagation through time.

Every recurrent layer has the same skeleton. With ``x_t`` the input at step ``t`` (N, I), ``h_t``
the state (N, H), and ``G`` rows of gates (``G = H`` for a plain RNN, ``4H`` for the LSTM, ``3H``
for the GRU)::

    gi_t = x_t W_ih^T + b_ih              (N, G)  the input's share of every gate
    gh_t = h_{t-1} W_hh^T + b_hh          (N, G)  the previous state's share
    h_t  = step(gi_t, gh_t, state_{t-1})          pointwise: no matrix products inside

The input's share does not depend on the state, so it is computed for all ``T`` steps at once:
one (T*N, I) x (I, G) matrix product instead of ``T`` small ones. Only ``h_{t-1} W_hh^T`` has to
wait for the previous step.

Backpropagation through time runs the steps backwards. Each step's pointwise backward turns
``dL/dh_t`` (from the output at ``t`` plus what flowed back from step ``t+1``) into the gradients
of the gate pre-activations, ``dgi_t`` and ``dgh_t`` (equal for RNN and LSTM), and hands
``dL/dh_{t-1} = dgh_t W_hh`` on to the step before. The weights are shared by all steps, so their
gradients are sums over steps, and a sum over steps of products is again one big product::

    dW_ih = sum_t dgi_t^T x_t       = dGi^T X        (G, I)   with dGi stacked to (T*N, G)
    dW_hh = sum_t dgh_t^T h_{t-1}   = dGh^T H_prev   (G, H)
    dx    = dGi W_ih                                  (T*N, I)
    db_ih = column sums of dGi,  db_hh = column sums of dGh

so backward, too, has only the ``T`` small products ``dgh_t W_hh`` inside its loop.

Variable-length batches. ``mask`` is a (T, N) boolean array, True where sequence ``n`` has a real
token at step ``t``. At a padded step the state is carried over unchanged (``h_t = h_{t-1}``, and
for the LSTM ``c_t = c_{t-1}``), the output is 0, and in backward the gradient passes straight
through to ``h_{t-1}`` while the gates get none, so padding changes neither the result nor any
gradient. With ``reverse=True`` the steps run from ``T-1`` down to 0: the padded steps at the end
come first and leave the initial state alone, so each sequence starts from its own last real
token, which is what a bidirectional layer's backward direction needs.
"""

from __future__ import annotations

from minilm import backend
from minilm.tensor import Tensor


def check_arguments(op: str, x, states, w_ih, w_hh, b_ih, b_hh, gates: int, step: bool = False):
    """Raise a ValueError naming the offending shape unless the arguments fit together.

    ``x`` is (T, N, I) for a sequence (``step=False``) or (N, I) for a cell; each of ``states`` is
    None or (N, H); ``w_ih`` (gates*H, I), ``w_hh`` (gates*H, H), biases (gates*H,) or None.
    Returns ``H``."""
    want = 2 if step else 3
    what = "(N, input_size)" if step else "(T, N, input_size)"
    for name, t in (("input", x), ("weight_ih", w_ih), ("weight_hh", w_hh)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if x.ndim != want:
        raise ValueError(f"{op}: input must be {what}, got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be a float tensor, got {x.dtype}")
    if w_hh.ndim != 2 or w_hh.shape[0] % gates or w_hh.shape[0] != gates * w_hh.shape[1]:
        raise ValueError(f"{op}: weight_hh must be ({gates} * hidden_size, hidden_size), got shape {w_hh.shape}")
    H = w_hh.shape[1]
    n_in = x.shape[-1]
    if tuple(w_ih.shape) != (gates * H, n_in):
        raise ValueError(
            f"{op}: weight_ih has shape {w_ih.shape}, expected ({gates * H}, {n_in}) for hidden_size {H} "
            f"and an input of size {n_in} (the input has shape {x.shape})"
        )
    for name, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
        if b is not None and tuple(b.shape) != (gates * H,):
            raise ValueError(f"{op}: {name} has shape {b.shape}, expected ({gates * H},)")
    N = x.shape[-2]
    for name, s in states:
        if s is not None and tuple(s.shape) != (N, H):
            raise ValueError(f"{op}: {name} has shape {s.shape}, expected (batch={N}, hidden_size={H})")
    return H


def check_mask(op: str, mask, T: int, N: int, device):
    """The (T, N) boolean mask as an array on ``device`` (None stays None); every sequence must
    have its real steps first: a True after a False in one column is an error."""
    if mask is None:
        return None
    m = mask.data if isinstance(mask, Tensor) else mask
    m = backend.to_device(backend.xp_of(m).asarray(m), device)
    if m.dtype != bool or tuple(m.shape) != (T, N):
        raise ValueError(f"{op}: mask must be a boolean (T, N) = ({T}, {N}) array, got {m.dtype} {tuple(m.shape)}")
    if T > 1 and bool((m[1:] & ~m[:-1]).any()):
        raise ValueError(f"{op}: mask must mark each sequence's real steps first (True, ..., True, False, ...)")
    return m


def lengths_to_mask(lengths, T: int):
    """(T, N) boolean mask from sequence lengths: ``mask[t, n] = t < lengths[n]``."""
    xp = backend.xp_of(lengths)
    return xp.arange(T)[:, None] < xp.asarray(lengths)[None, :]


def input_projection(x, w_ih, bias):
    """``x W_ih^T + bias`` for all steps at once: (T, N, I) -> (T, N, G), one matrix product."""
    T, N, _ = x.shape
    gi = x.reshape(T * N, -1) @ w_ih.T
    if bias is not None:
        gi += bias
    return gi.reshape(T, N, -1)


def steps(T: int, reverse: bool):
    """The order in which the forward pass visits the steps (backward visits them reversed)."""
    return range(T - 1, -1, -1) if reverse else range(T)


def previous_states(states, reverse: bool):
    """The state each step started from, in step order, from the (T+1, N, H) array of states in
    the order they were computed (``states[0]`` the initial one)."""
    return states[-2::-1] if reverse else states[:-1]


def gradients_of_weights(dgi, dgh, x, h_prev, w_ih, needs):
    """``(dx, dW_ih, dW_hh, db_ih, db_hh)`` from the stacked gate gradients (see the module
    docstring). ``dgi``/``dgh`` are (T, N, G) (the same array for RNN and LSTM), ``x`` (T, N, I)
    and ``h_prev`` (T, N, H), all indexed by time step. ``needs`` are the flags for
    (x, w_ih, w_hh, b_ih, b_hh); a gradient nobody needs is None."""
    T, N, G = dgi.shape
    dgi2 = dgi.reshape(T * N, G)
    dgh2 = dgh.reshape(T * N, G) if dgh is not dgi else dgi2
    dx = (dgi2 @ w_ih).reshape(x.shape) if needs[0] else None
    dw_ih = dgi2.T @ x.reshape(T * N, -1) if needs[1] else None
    dw_hh = dgh2.T @ h_prev.reshape(T * N, -1) if needs[2] else None
    db_ih = dgi2.sum(axis=0) if needs[3] else None
    db_hh = dgh2.sum(axis=0) if needs[4] else None
    return dx, dw_ih, dw_hh, db_ih, db_hh


def gradients_of_step(dgi, dgh, x, h_prev, w_ih, needs):
    """``gradients_of_weights`` for one step (a cell): the (N, G) gate gradients of a single step
    are a sequence of length 1."""
    dgi1 = dgi[None]
    dgh1 = dgi1 if dgh is dgi else dgh[None]
    dx, *rest = gradients_of_weights(dgi1, dgh1, x[None], h_prev[None], w_ih, needs)
    return (None if dx is None else dx[0], *rest)


def initial_state(s, N: int, H: int, like):
    """The initial state array: ``s`` itself, or zeros (N, H) like ``like`` when None."""
    if s is not None:
        return s
    return backend.xp_of(like).zeros((N, H), dtype=like.dtype)


def cuda_row_mask(m, N: int, xp):
    """The step's (N, 1) boolean mask for a fused kernel: ``m`` itself, or all True without a mask."""
    return xp.ones((N, 1), dtype=bool) if m is None else m
