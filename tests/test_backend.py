"""backend.py: devices, dtypes, the random generators and the operations whose NumPy and CuPy
spellings differ."""

import contextlib
import json
import sys
import types

import numpy as np
import pytest

import minilm
from minilm import backend


def test_device_parsing_and_equality():
    assert minilm.device("cpu") == "cpu" and str(minilm.device("cpu")) == "cpu"
    cuda = minilm.device("cuda")
    assert cuda == "cuda:0" and cuda == minilm.device("cuda:0") and cuda.index == 0 and cuda.type == "cuda"
    assert minilm.device("cuda:1") != cuda and minilm.device("cuda:1") != "cpu"
    assert repr(minilm.device("cuda:1")) == "device(type='cuda', index=1)"
    assert len({minilm.device("cpu"), minilm.device("cpu"), cuda}) == 2
    for bad in ("gpu", "cuda:x", "cpu:0", 3):
        with pytest.raises(ValueError, match="unknown device"):
            minilm.device(bad)


def test_canonical_dtype():
    assert backend.canonical_dtype("float64") is minilm.float64
    assert backend.canonical_dtype(np.int32) is minilm.int64
    assert backend.canonical_dtype(bool) is minilm.bool
    assert backend.canonical_dtype(float) is minilm.get_default_dtype()
    with pytest.raises(TypeError, match="unsupported dtype complex128"):
        backend.canonical_dtype(np.complex128)


def test_xp_of(device):
    x = minilm.zeros(2, device=device)
    xp = backend.xp_of(x.data)
    assert xp.__name__ == ("numpy" if device == "cpu" else "cupy")
    assert backend.device_of(x.data) == device


def test_scatter_add_accumulates_repeated_indices(device):
    xp = backend.xp_for(backend.device(device))
    target = xp.zeros(4)
    backend.scatter_add(target, (xp.asarray([0, 2, 0, 0]),), xp.asarray([1.0, 2.0, 3.0, 4.0]))
    assert backend.to_device(target, backend.CPU).tolist() == [8.0, 0.0, 2.0, 0.0]


def test_check_index_range(device):
    xp = backend.xp_for(backend.device(device))
    backend.check_index_range("op", xp.asarray([0, 4, -5]), 5, 0)
    with pytest.raises(IndexError, match="op: index 5 is out of range for dimension 2 of size 5"):
        backend.check_index_range("op", xp.asarray([0, 5]), 5, 2)
    with pytest.raises(IndexError, match="index -6"):
        backend.check_index_range("op", xp.asarray([-6]), 5, 0)


def test_cuda_module_reports_availability():
    assert isinstance(minilm.cuda.is_available(), bool)
    if minilm.cuda.is_available():
        assert minilm.cuda.device_count() >= 1
    else:
        assert minilm.cuda.device_count() == 0
    minilm.cuda.synchronize()  # a no-op without a GPU, a wait with one


# ---------------------------------------------------------------------------------------------
# saving and restoring the random generators (exact resume of training)
# ---------------------------------------------------------------------------------------------


def _draws(device):
    """A few numbers from every kind of draw minilm makes (normal, uniform, integers, dropout)."""
    x = minilm.ones(5, 3, device=device)
    return [
        _numpy(minilm.randn(4, 3, device=device)),
        _numpy(minilm.rand(7, device=device, dtype=minilm.float64)),
        _numpy(minilm.randint(0, 1000, (6,), device=device)),
        _numpy(minilm.nn.functional.dropout(x, 0.5)),
    ]


def _numpy(t):
    """A Tensor's values as a NumPy array, wherever they live."""
    return backend.to_device(t.data, backend.CPU)


def _assert_same_draws(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_rng_state_restores_the_stream(device):
    minilm.manual_seed(3)
    _draws(device)  # the generator has moved on from its seed
    state = minilm.get_rng_state()
    expected = _draws(device)
    assert not np.array_equal(expected[0], _draws(device)[0])  # the stream does move
    minilm.set_rng_state(json.loads(json.dumps(state)))  # plain JSON data
    _assert_same_draws(_draws(device), expected)


def test_rng_state_survives_a_checkpoint_file(tmp_path):
    minilm.manual_seed(5)
    minilm.rand(3)
    minilm.save({"rng": minilm.get_rng_state()}, tmp_path / "rng.npz")
    expected = _draws("cpu")
    minilm.manual_seed(99)
    minilm.set_rng_state(minilm.load(tmp_path / "rng.npz")["rng"])
    _assert_same_draws(_draws("cpu"), expected)


def test_rng_state_leaves_unused_generators_to_the_seed():
    minilm.manual_seed(11)
    state = minilm.get_rng_state()
    assert state == {"seed": 11, "generators": {}}  # nothing drawn yet: only the seed matters
    expected = _draws("cpu")
    minilm.manual_seed(12)
    minilm.rand(4)
    minilm.set_rng_state(state)
    _assert_same_draws(_draws("cpu"), expected)  # created from seed 11 on first use, as before


def test_rng_state_keeps_a_cuda_position_without_a_gpu():
    state = {"seed": 4, "generators": {"cuda:0": {"seed": 4, "offset": 3 * backend.CUDA_BLOCK}}}
    minilm.set_rng_state(state)
    assert minilm.get_rng_state() == state


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"generators": {}}, "expected the dict"),
        ({"seed": "x", "generators": {}}, "'seed' must be an int or None"),
        ({"seed": 0, "generators": {"tpu": {}}}, "unknown device 'tpu'"),
        ({"seed": 0, "generators": {"cpu": {"bit_generator": "MT19937"}}}, "not a NumPy generator state"),
        ({"seed": 0, "generators": {"cuda:0": {"seed": 0, "offset": -1}}}, "offset"),
    ],
)
def test_bad_rng_state_is_refused_and_changes_nothing(bad, message):
    minilm.manual_seed(2)
    minilm.rand(3)
    state = minilm.get_rng_state()
    with pytest.raises(ValueError, match=message):
        minilm.set_rng_state(bad)
    assert minilm.get_rng_state() == state


class _FakeCurand:
    """Stands in for cupy.cuda.curand: a generator is its offset; setGeneratorOffset moves it."""

    CURAND_RNG_PSEUDO_PHILOX4_32_10 = "philox"

    @staticmethod
    def setGeneratorOffset(generator, offset):
        generator.offset = offset


class _FakeRandomState:
    """Stands in for cupy.random.RandomState: the numbers depend only on (seed, offset), as a
    counter-based generator's do, and each draw moves the offset past what it used."""

    def __init__(self, seed, method):
        assert method == "philox"
        self.seed = seed
        self._generator = types.SimpleNamespace(offset=0)

    def _rng(self, size):
        rng = np.random.default_rng([self.seed, self._generator.offset])
        self._generator.offset += int(np.prod(size))
        return rng

    def random_sample(self, size, dtype):
        return self._rng(size).random(size).astype(dtype)

    def standard_normal(self, size, dtype):
        return self._rng(size).standard_normal(size).astype(dtype)

    def randint(self, low, high, size, dtype):
        return self._rng(size).integers(low, high, size).astype(dtype)


def test_cuda_stream_position_is_recorded_and_restored(monkeypatch):
    """The CUDA bookkeeping, without a GPU: each draw starts at a recorded, block-aligned offset
    (after everything drawn before), and set_rng_state brings the same numbers back."""
    curand = _FakeCurand()
    cuda = types.SimpleNamespace(curand=curand, Device=lambda index: contextlib.nullcontext())
    cupy = types.SimpleNamespace(cuda=cuda, random=types.SimpleNamespace(RandomState=_FakeRandomState))
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupy.cuda", cuda)
    monkeypatch.setattr(backend, "require_cupy", lambda: cupy)
    dev = minilm.device("cuda:0")
    block = backend.CUDA_BLOCK

    def draws():
        return [
            backend.random_uniform(dev, (3,), np.float32),
            backend.random_normal(dev, (block // 2,), np.float64),  # needs 2 blocks of room
            backend.random_integers(dev, 0, 9, (4,)),
        ]

    minilm.manual_seed(6)
    backend.random_uniform(dev, (5,), np.float32)
    state = minilm.get_rng_state()
    assert state["generators"] == {"cuda:0": {"seed": 6, "offset": block}}
    expected = draws()
    assert minilm.get_rng_state()["generators"]["cuda:0"]["offset"] == block + block + 3 * block + block
    minilm.manual_seed(7)
    backend.random_uniform(dev, (5,), np.float32)
    minilm.set_rng_state(state)
    _assert_same_draws(draws(), expected)
