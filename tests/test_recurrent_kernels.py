"""The recurrent kernels (minilm/kernels/rnn.py, lstm.py, gru.py): float64 gradient checks on random
shapes, masks and directions; agreement with twins composed from primitive ops (kept here); what a
length mask promises; and the errors. PyTorch agreement of the modules is in test_recurrent_torch.py."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minilm
from helpers import array, leaf, to_numpy
from minilm.autograd import gradcheck
from minilm.kernels import gru as gru_kernel
from minilm.kernels import lstm as lstm_kernel
from minilm.kernels import rnn as rnn_kernel

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}

# ---------------------------------------------------------------------------------------------
# the composed twins: the same recurrences written with primitive ops, one step at a time
# ---------------------------------------------------------------------------------------------


def _affine(x, w, b):
    y = x @ w.T
    return y if b is None else y + b


def _keep(m, new, old):
    """The new state where the step is real, the old one where it is padding."""
    return new if m is None else minilm.where(m, new, old)


def _order(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def _stack_outputs(outs, T):
    return minilm.stack([outs[t] for t in range(T)])


def rnn_composed(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh", mask=None, reverse=False):
    act = minilm.tanh if nonlinearity == "tanh" else minilm.relu
    T, N, _ = x.shape
    h = minilm.zeros(N, w_hh.shape[1], dtype=x.dtype, device=x.device) if h is None else h
    outs = {}
    for t in _order(T, reverse):
        m = None if mask is None else minilm.tensor(mask[t][:, None], device=x.device)
        new = act(_affine(x[t], w_ih, b_ih) + _affine(h, w_hh, b_hh))
        outs[t] = new if m is None else new * m
        h = _keep(m, new, h)
    return _stack_outputs(outs, T), h


def lstm_composed(x, h, c, w_ih, w_hh, b_ih, b_hh, mask=None, reverse=False):
    T, N, _ = x.shape
    H = w_hh.shape[1]
    h = minilm.zeros(N, H, dtype=x.dtype, device=x.device) if h is None else h
    c = minilm.zeros(N, H, dtype=x.dtype, device=x.device) if c is None else c
    outs = {}
    for t in _order(T, reverse):
        m = None if mask is None else minilm.tensor(mask[t][:, None], device=x.device)
        a = _affine(x[t], w_ih, b_ih) + _affine(h, w_hh, b_hh)
        i, f, g, o = a[:, :H].sigmoid(), a[:, H : 2 * H].sigmoid(), a[:, 2 * H : 3 * H].tanh(), a[:, 3 * H :].sigmoid()
        c_new = f * c + i * g
        h_new = o * c_new.tanh()
        outs[t] = h_new if m is None else h_new * m
        h, c = _keep(m, h_new, h), _keep(m, c_new, c)
    return _stack_outputs(outs, T), h, c


def gru_composed(x, h, w_ih, w_hh, b_ih, b_hh, mask=None, reverse=False):
    T, N, _ = x.shape
    H = w_hh.shape[1]
    h = minilm.zeros(N, H, dtype=x.dtype, device=x.device) if h is None else h
    outs = {}
    for t in _order(T, reverse):
        m = None if mask is None else minilm.tensor(mask[t][:, None], device=x.device)
        gi, gh = _affine(x[t], w_ih, b_ih), _affine(h, w_hh, b_hh)
        r = (gi[:, :H] + gh[:, :H]).sigmoid()
        z = (gi[:, H : 2 * H] + gh[:, H : 2 * H]).sigmoid()
        n = (gi[:, 2 * H :] + r * gh[:, 2 * H :]).tanh()
        h_new = (1 - z) * n + z * h
        outs[t] = h_new if m is None else h_new * m
        h = _keep(m, h_new, h)
    return _stack_outputs(outs, T), h


def run_kernel(kind, x, states, params, mask=None, reverse=False):
    if kind == "lstm":
        return lstm_kernel.lstm(x, *states, *params, mask=mask, reverse=reverse)
    if kind == "gru":
        return gru_kernel.gru(x, *states, *params, mask=mask, reverse=reverse)
    return rnn_kernel.rnn(x, *states, *params, nonlinearity=kind[4:], mask=mask, reverse=reverse)


def run_composed(kind, x, states, params, mask=None, reverse=False):
    if kind == "lstm":
        return lstm_composed(x, *states, *params, mask=mask, reverse=reverse)
    if kind == "gru":
        return gru_composed(x, *states, *params, mask=mask, reverse=reverse)
    return rnn_composed(x, *states, *params, nonlinearity=kind[4:], mask=mask, reverse=reverse)


# ---------------------------------------------------------------------------------------------
# random cases
# ---------------------------------------------------------------------------------------------


@st.composite
def cases(draw):
    """A random recurrence: sizes, a mask (or none), direction, initial states and biases."""
    T, N, n_in, H = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    lengths = draw(st.one_of(st.none(), st.lists(st.integers(1, T), min_size=N, max_size=N)))
    mask = None if lengths is None else np.arange(T)[:, None] < np.array(lengths)[None, :]
    return dict(
        sizes=(T, N, n_in, H),
        mask=mask,
        reverse=draw(st.booleans()),
        with_states=draw(st.booleans()),
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**31 - 1)),
        transposed=draw(st.booleans()),
    )


def make_inputs(device, kind, case, dtype=np.float64):
    T, N, n_in, H = case["sizes"]
    G = GATES[kind] * H
    seed = case["seed"]
    x = leaf(device, (T, N, n_in), seed, dtype=dtype, transposed=case["transposed"])
    n_states = 2 if kind == "lstm" else 1
    states = [leaf(device, (N, H), seed + 1 + k, dtype=dtype) if case["with_states"] else None for k in range(n_states)]
    scale = dtype(1 / np.sqrt(H))
    params = [
        minilm.Tensor(array(device, (G, n_in), seed + 5, dtype) * scale, requires_grad=True),
        minilm.Tensor(array(device, (G, H), seed + 6, dtype) * scale, requires_grad=True),
    ]
    if case["bias"]:
        params += [leaf(device, (G,), seed + 7, dtype=dtype), leaf(device, (G,), seed + 8, dtype=dtype)]
    else:
        params += [None, None]
    return x, states, params


def _flat(outputs):
    return minilm.cat([o.reshape(-1) for o in outputs])


def _inputs_with_grad(x, states, params):
    return [t for t in [x, *states, *params] if t is not None]


KINDS = sorted(GATES)


@pytest.mark.parametrize("kind", KINDS)
@given(case=cases())
@settings(max_examples=25)
def test_sequence_kernel_gradcheck(device, kind, case):
    x, states, params = make_inputs(device, kind, case)
    leaves = _inputs_with_grad(x, states, params)

    def fn(*ts):
        it = iter(ts)
        xs = next(it)
        st_ = [next(it) if s is not None else None for s in states]
        ps = [next(it) if p is not None else None for p in params]
        return _flat(run_kernel(kind, xs, st_, ps, case["mask"], case["reverse"]))

    assert gradcheck(fn, leaves)


@pytest.mark.parametrize("kind", KINDS)
@given(case=cases())
@settings(max_examples=25)
def test_sequence_kernel_agrees_with_composed_twin(device, kind, case):
    x, states, params = make_inputs(device, kind, case)
    leaves = _inputs_with_grad(x, states, params)
    w = None
    results = []
    for run in (run_kernel, run_composed):
        for t in leaves:
            t.grad = None
        out = _flat(run(kind, x, states, params, case["mask"], case["reverse"]))
        if w is None:
            w = minilm.Tensor(array(device, out.shape, seed=99))
        (out * w).sum().backward()
        results.append((to_numpy(out.detach()), [to_numpy(t.grad) for t in leaves]))
    (y1, g1), (y2, g2) = results
    np.testing.assert_allclose(y1, y2, rtol=1e-10, atol=1e-12)
    for a, b in zip(g1, g2, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _cell(kind, x, states, params):
    if kind == "lstm":
        return minilm.stack(list(lstm_kernel.lstm_cell(x, tuple(states) if states[0] is not None else None, *params)))
    if kind == "gru":
        return gru_kernel.gru_cell(x, states[0], *params)
    return rnn_kernel.rnn_cell(x, states[0], *params, nonlinearity=kind[4:])


@pytest.mark.parametrize("kind", KINDS)
@given(case=cases())
@settings(max_examples=20)
def test_cell_kernel_gradcheck_and_equals_one_step_of_the_sequence(device, kind, case):
    case = dict(case, mask=None, reverse=False)
    x, states, params = make_inputs(device, kind, case)
    x1 = minilm.Tensor(x.data[0].copy(), requires_grad=True)
    if case["with_states"] or kind != "lstm":
        leaves = _inputs_with_grad(x1, states, params)
    else:
        states = [None, None]
        leaves = _inputs_with_grad(x1, states, params)

    def fn(*ts):
        it = iter(ts)
        xs = next(it)
        st_ = [next(it) if s is not None else None for s in states]
        ps = [next(it) if p is not None else None for p in params]
        return _cell(kind, xs, st_, ps)

    assert gradcheck(fn, leaves)
    step = _cell(kind, x1, states, params)
    seq = run_kernel(kind, x1.unsqueeze(0), states, params)
    final = minilm.stack(list(seq[1:])) if kind == "lstm" else seq[1]
    np.testing.assert_allclose(to_numpy(step), to_numpy(final), rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# what a length mask promises
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_padding_changes_nothing(device, kind, reverse):
    """Each sequence of a padded batch gets the outputs and final state it gets alone; the padded
    steps output 0 and receive no gradient, whatever is in them."""
    T, N, n_in, H = 6, 3, 4, 5
    lengths = [6, 2, 4]
    case = dict(sizes=(T, N, n_in, H), with_states=True, bias=True, seed=3, transposed=False)
    x, states, params = make_inputs(device, kind, case)
    mask = np.arange(T)[:, None] < np.array(lengths)[None, :]
    out = run_kernel(kind, x, states, params, mask, reverse)
    (out[0] * minilm.Tensor(array(device, out[0].shape, seed=4))).sum().backward()
    y = to_numpy(out[0])
    gx = to_numpy(x.grad)
    for n, L in enumerate(lengths):
        alone = run_kernel(
            kind, minilm.Tensor(x.data[:L, n : n + 1]), [s[n : n + 1] for s in states], params, reverse=reverse
        )
        np.testing.assert_allclose(y[:L, n], to_numpy(alone[0])[:, 0], rtol=1e-12, atol=1e-14)
        for final, final_alone in zip(out[1:], alone[1:], strict=True):
            np.testing.assert_allclose(to_numpy(final)[n], to_numpy(final_alone)[0], rtol=1e-12, atol=1e-14)
        assert (y[L:, n] == 0).all()
        assert (gx[L:, n] == 0).all() and (gx[:L, n] != 0).any()


def test_reverse_runs_the_sequence_backwards(device):
    """reverse=True on x equals reverse=False on x flipped in time, with the outputs flipped back."""
    case = dict(sizes=(5, 2, 3, 4), with_states=True, bias=True, seed=11, transposed=False)
    x, states, params = make_inputs(device, "lstm", case)
    out_r = lstm_kernel.lstm(x, *states, *params, reverse=True)
    flipped = minilm.Tensor(x.data[::-1].copy())
    out_f = lstm_kernel.lstm(flipped, *states, *params)
    np.testing.assert_allclose(to_numpy(out_r[0]), to_numpy(out_f[0])[::-1], rtol=1e-12)
    np.testing.assert_allclose(to_numpy(out_r[2]), to_numpy(out_f[2]), rtol=1e-12)


def test_float32_stays_float32_and_initial_states_default_to_zero(device):
    case = dict(sizes=(3, 2, 3, 4), with_states=False, bias=True, seed=5, transposed=False)
    x, states, params = make_inputs(device, "gru", case, dtype=np.float32)
    out, h = gru_kernel.gru(x, None, *params)
    zeros = minilm.zeros(2, 4, dtype=minilm.float32, device=device)
    out0, h0 = gru_kernel.gru(x, zeros, *params)
    assert out.dtype == minilm.float32 and h.dtype == minilm.float32
    np.testing.assert_array_equal(to_numpy(out), to_numpy(out0))
    (out.sum() + h.sum()).backward()
    assert all(p.grad.dtype == minilm.float32 for p in params)


def test_the_lstm_forget_gate_carries_the_cell_state():
    """With the forget gate saturated open and the input gate shut, c_T = c_0 however long the
    sequence: the additive path that lets gradients survive (dc_prev = dc * f = dc)."""
    H, n_in, T = 3, 2, 50
    w_ih = minilm.zeros(4 * H, n_in, dtype=minilm.float64)
    w_hh = minilm.zeros(4 * H, H, dtype=minilm.float64)
    b = np.zeros(4 * H)
    b[:H] = -50  # input gate ~ 0
    b[H : 2 * H] = 50  # forget gate ~ 1
    c0 = minilm.tensor(np.array([[0.3, -1.0, 2.0]]), requires_grad=True)
    x = minilm.tensor(np.random.default_rng(0).standard_normal((T, 1, n_in)))
    _, _, c_T = lstm_kernel.lstm(x, None, c0, w_ih, w_hh, minilm.tensor(b), None)
    np.testing.assert_allclose(c_T.data, c0.data, rtol=1e-12)
    c_T.sum().backward()
    np.testing.assert_allclose(c0.grad.data, 1.0, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# errors a learner can act on
# ---------------------------------------------------------------------------------------------


def _params(G, n_in, H):
    return [minilm.zeros(G, n_in), minilm.zeros(G, H), minilm.zeros(G), minilm.zeros(G)]


def test_shape_errors_name_the_offending_shape():
    x = minilm.zeros(5, 2, 3)
    with pytest.raises(ValueError, match=r"weight_ih has shape \(16, 4\), expected \(16, 3\)"):
        lstm_kernel.lstm(x, None, None, minilm.zeros(16, 4), minilm.zeros(16, 4))
    with pytest.raises(ValueError, match=r"weight_hh must be \(3 \* hidden_size, hidden_size\)"):
        gru_kernel.gru(x, None, minilm.zeros(12, 3), minilm.zeros(12, 3))
    with pytest.raises(ValueError, match=r"h0 has shape \(3, 4\), expected \(batch=2, hidden_size=4\)"):
        gru_kernel.gru(x, minilm.zeros(3, 4), *_params(12, 3, 4))
    with pytest.raises(ValueError, match=r"input must be \(T, N, input_size\), got shape \(5, 3\)"):
        rnn_kernel.rnn(minilm.zeros(5, 3), None, *_params(4, 3, 4))
    with pytest.raises(ValueError, match=r"bias_hh has shape \(5,\), expected \(4,\)"):
        rnn_kernel.rnn(x, None, minilm.zeros(4, 3), minilm.zeros(4, 4), None, minilm.zeros(5))
    with pytest.raises(ValueError, match="unknown nonlinearity 'sigmoid'"):
        rnn_kernel.rnn(x, None, *_params(4, 3, 4), nonlinearity="sigmoid")


def test_mask_errors():
    x = minilm.zeros(3, 2, 3)
    with pytest.raises(ValueError, match=r"boolean \(T, N\) = \(3, 2\)"):
        gru_kernel.gru(x, None, *_params(12, 3, 4), mask=np.ones((2, 3), dtype=bool))
    gappy = np.array([[True, True], [False, True], [True, True]])
    with pytest.raises(ValueError, match="real steps first"):
        gru_kernel.gru(x, None, *_params(12, 3, 4), mask=gappy)


def test_mixed_dtypes_are_refused():
    x = minilm.zeros(3, 2, 3, dtype=minilm.float64)
    with pytest.raises(TypeError, match="mixed float dtypes"):
        lstm_kernel.lstm(x, None, None, *_params(16, 3, 4))
