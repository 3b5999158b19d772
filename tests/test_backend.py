"""backend.py: devices, dtypes and the operations whose NumPy and CuPy spellings differ."""

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
