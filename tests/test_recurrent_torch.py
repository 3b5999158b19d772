"""nn.RNN / nn.LSTM / nn.GRU and their cells against PyTorch: a PyTorch module's state_dict loads
into the minilm module, and outputs, final states and every gradient agree (float64), for stacked,
bidirectional, batch-first, packed (different lengths) and unbatched inputs. Plus the module
behaviour that needs no PyTorch: parameter names and shapes, initialisation, dropout, errors."""

import numpy as np
import pytest

import minilm
from helpers import to_numpy
from minilm import nn

KINDS = ["RNN", "LSTM", "GRU"]
CONFIGS = [
    dict(),
    dict(num_layers=2, bidirectional=True, batch_first=True),
    dict(num_layers=3, dropout=0.0, bias=False),
    dict(bidirectional=True),
]


def _pair(kind, torch, **kw):
    n_in, H = 5, 7
    theirs = getattr(torch.nn, kind)(n_in, H, **kw).double()
    ours = getattr(nn, kind)(n_in, H, **kw).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _rng(seed):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
@pytest.mark.parametrize("kind", KINDS)
def test_module_matches_pytorch(kind, config, packed):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(kind, torch, **config)
    T, N, n_in, H = 6, 4, 5, 7
    bf = config.get("batch_first", False)
    L = config.get("num_layers", 1) * (2 if config.get("bidirectional") else 1)
    x = _rng(1).standard_normal((N, T, n_in) if bf else (T, N, n_in))
    h0, c0 = _rng(2).standard_normal((L, N, H)), _rng(3).standard_normal((L, N, H))
    lengths = np.array([6, 3, 5, 1])
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    mx, mh, mc = (minilm.tensor(a, requires_grad=True) for a in (x, h0, c0))
    t_hx, m_hx = ((th, tc), (mh, mc)) if kind == "LSTM" else (th, mh)
    if packed:
        tp = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=bf, enforce_sorted=False)
        t_out, t_states = theirs(tp, t_hx)
        t_out = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first=bf, total_length=T)[0]
        mp = nn.utils.rnn.pack_padded_sequence(mx, lengths, batch_first=bf, enforce_sorted=False)
        m_out, m_states = ours(mp, m_hx)
        m_out, m_lengths = nn.utils.rnn.pad_packed_sequence(m_out, batch_first=bf)
        np.testing.assert_array_equal(to_numpy(m_lengths), lengths)
    else:
        t_out, t_states = theirs(tx, t_hx)
        m_out, m_states = ours(mx, m_hx)
    t_states = list(t_states) if kind == "LSTM" else [t_states]
    m_states = list(m_states) if kind == "LSTM" else [m_states]
    W = _rng(4).standard_normal(tuple(t_out.shape))
    (t_out * torch.tensor(W)).sum().add(sum((s * (k + 2)).sum() for k, s in enumerate(t_states))).backward()
    loss = (m_out * minilm.tensor(W)).sum()
    for k, s in enumerate(m_states):
        loss = loss + (s * (k + 2)).sum()
    loss.backward()
    tol = dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_numpy(m_out), t_out.detach().numpy(), **tol)
    for a, b in zip(m_states, t_states, strict=True):
        np.testing.assert_allclose(to_numpy(a), b.detach().numpy(), **tol)
    np.testing.assert_allclose(to_numpy(mx.grad), tx.grad.numpy(), **tol)
    np.testing.assert_allclose(to_numpy(mh.grad), th.grad.numpy(), **tol)
    if kind == "LSTM":
        np.testing.assert_allclose(to_numpy(mc.grad), tc.grad.numpy(), **tol)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(to_numpy(getattr(ours, name).grad), p.grad.numpy(), err_msg=name, **tol)


@pytest.mark.parametrize("kind", KINDS)
def test_cells_match_pytorch(kind):
    torch = pytest.importorskip("torch")
    N, n_in, H = 3, 4, 6
    theirs = getattr(torch.nn, kind + "Cell")(n_in, H).double()
    ours = getattr(nn, kind + "Cell")(n_in, H).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x, h, c = _rng(5).standard_normal((N, n_in)), _rng(6).standard_normal((N, H)), _rng(7).standard_normal((N, H))
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    mx, mh, mc = (minilm.tensor(a, requires_grad=True) for a in (x, h, c))
    if kind == "LSTM":
        t_out, m_out = torch.stack(theirs(tx, (th, tc))), minilm.stack(list(ours(mx, (mh, mc))))
    else:
        t_out, m_out = theirs(tx, th), ours(mx, mh)
    W = _rng(8).standard_normal(tuple(t_out.shape))
    (t_out * torch.tensor(W)).sum().backward()
    (m_out * minilm.tensor(W)).sum().backward()
    np.testing.assert_allclose(to_numpy(m_out), t_out.detach().numpy(), rtol=1e-12)
    pairs = [(mx, tx), (mh, th)] + ([(mc, tc)] if kind == "LSTM" else [])
    pairs += [(getattr(ours, n), p) for n, p in theirs.named_parameters()]
    for a, b in pairs:
        np.testing.assert_allclose(to_numpy(a.grad), b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input_and_no_initial_state_match_pytorch(kind):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(kind, torch, num_layers=2)
    x = _rng(9).standard_normal((4, 5))
    t_out, t_states = theirs(torch.tensor(x))
    m_out, m_states = ours(minilm.tensor(x))
    assert m_out.shape == tuple(t_out.shape) == (4, 7)
    np.testing.assert_allclose(to_numpy(m_out), t_out.detach().numpy(), rtol=1e-12)
    t_states = t_states if kind == "LSTM" else (t_states,)
    m_states = m_states if kind == "LSTM" else (m_states,)
    for a, b in zip(m_states, t_states, strict=True):
        assert a.shape == tuple(b.shape) == (2, 7)
        np.testing.assert_allclose(to_numpy(a), b.detach().numpy(), rtol=1e-12)


def test_pad_sequence_matches_pytorch():
    torch = pytest.importorskip("torch")
    seqs = [_rng(k).standard_normal((n, 3)) for k, n in enumerate([4, 1, 3])]
    for batch_first in (False, True):
        theirs = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first, padding_value=-1.0)
        ours = nn.utils.rnn.pad_sequence([minilm.tensor(s) for s in seqs], batch_first, padding_value=-1.0)
        np.testing.assert_array_equal(to_numpy(ours), theirs.numpy())


# ---------------------------------------------------------------------------------------------
# behaviour without PyTorch
# ---------------------------------------------------------------------------------------------


def test_parameter_names_and_shapes_follow_pytorch():
    lstm = nn.LSTM(10, 20, num_layers=2, bidirectional=True)
    shapes = {k: tuple(v.shape) for k, v in lstm.state_dict().items()}
    assert shapes["weight_ih_l0"] == (80, 10)
    assert shapes["weight_ih_l1_reverse"] == (80, 40)
    assert shapes["weight_hh_l1"] == (80, 20)
    assert shapes["bias_hh_l0_reverse"] == (80,)
    assert len(shapes) == 16
    gru = nn.GRU(10, 20, bias=False)
    assert sorted(gru.state_dict()) == ["weight_hh_l0", "weight_ih_l0"]
    assert tuple(gru.weight_ih_l0.shape) == (60, 10)
    assert tuple(nn.GRUCell(3, 4).weight_hh.shape) == (12, 4)


def test_initialisation_is_uniform_in_plus_minus_one_over_sqrt_hidden():
    minilm.manual_seed(0)
    lstm = nn.LSTM(30, 64)
    w = to_numpy(lstm.weight_hh_l0)
    bound = 1 / np.sqrt(64)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.mean()) < 0.01 and abs(w.std() - bound / np.sqrt(3)) < 0.01


def test_dropout_acts_between_layers_only_in_training():
    minilm.manual_seed(0)
    model = nn.GRU(4, 8, num_layers=2, dropout=0.5)
    x = minilm.randn(5, 3, 4)
    model.eval()
    a, b = model(x)[0], model(x)[0]
    np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    model.train()
    c = model(x)[0]
    assert np.abs(to_numpy(c) - to_numpy(a)).max() > 1e-3
    single = nn.GRU(4, 8, num_layers=1, dropout=0.5)  # no layer after the last: nothing to drop
    single.train()
    np.testing.assert_array_equal(to_numpy(single(x)[0]), to_numpy(single(x)[0]))


def test_truncated_bptt_with_detached_state_continues_the_sequence():
    """Two halves with the state carried (and detached) give the same outputs as the whole: the
    state is what connects the windows; detach only stops the gradient."""
    minilm.manual_seed(1)
    model = nn.LSTM(3, 5, num_layers=2, batch_first=True)
    x = minilm.randn(2, 8, 3)
    whole, _ = model(x)
    first, state = model(x[:, :4])
    state = tuple(s.detach() for s in state)
    second, _ = model(x[:, 4:], state)
    np.testing.assert_allclose(to_numpy(minilm.cat([first, second], dim=1)), to_numpy(whole), rtol=1e-6, atol=1e-7)
    second.sum().backward()
    assert state[0].grad is None and not state[0].requires_grad


def test_module_errors_are_clear():
    lstm = nn.LSTM(4, 6, num_layers=2)
    with pytest.raises(ValueError, match="expected input_size 4"):
        lstm(minilm.zeros(3, 2, 5))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(2, 2, 6\)"):
        lstm(minilm.zeros(3, 2, 4), (minilm.zeros(1, 2, 6), minilm.zeros(1, 2, 6)))
    with pytest.raises(ValueError, match="must be a pair"):
        lstm(minilm.zeros(3, 2, 4), (minilm.zeros(2, 2, 6),))
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="not sorted in decreasing order"):
        nn.utils.rnn.pack_padded_sequence(minilm.zeros(3, 2, 4), [1, 3])
    with pytest.raises(ValueError, match="between 1 and the padded length 3"):
        nn.utils.rnn.pack_padded_sequence(minilm.zeros(3, 2, 4), [4, 1])


@pytest.mark.parametrize("kind", KINDS)
def test_stacked_bidirectional_packed_module_gradcheck(kind):
    """The whole module in float64, the input and every parameter checked against finite
    differences: two layers, both directions, different lengths. (gradcheck perturbs the tensors
    it is given in place, and the parameters given are the module's own.)"""
    from minilm.autograd import gradcheck

    minilm.manual_seed(3)
    module = getattr(nn, kind)(3, 2, num_layers=2, bidirectional=True, batch_first=True).double()
    x = minilm.tensor(_rng(10).standard_normal((3, 4, 3)), requires_grad=True)

    def fn(x, *parameters):
        packed = nn.utils.rnn.pack_padded_sequence(x, [4, 1, 3], batch_first=True, enforce_sorted=False)
        out, states = module(packed)
        states = states if kind == "LSTM" else (states,)
        return minilm.cat([out.data.reshape(-1)] + [s.reshape(-1) for s in states])

    assert gradcheck(fn, (x, *module.parameters()))
