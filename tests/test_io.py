"""Checkpoints (minilm.save / minilm.load) and safetensors: round trips, the exact bytes of the
format, atomic writes, and a clear error for every kind of bad file."""

import json
import math
import os
import pathlib
import re
import struct

import numpy as np
import pytest
from helpers import to_numpy
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minilm
from minilm import backend
from minilm.io import (
    CheckpointError,
    SafetensorsError,
    read_safetensors,
    safetensors_metadata,
    write_safetensors,
)

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def assert_same(expected, got, where="top"):
    """``got`` equals ``expected`` exactly: same types (tuple stays tuple, int key stays int), same
    dtypes and shapes, same values (nan equal to nan, -0.0 told apart from 0.0)."""
    if isinstance(expected, minilm.Tensor):
        assert type(got) is minilm.Tensor, where
        assert (got.dtype, got.shape) == (expected.dtype, expected.shape), where
        assert np.array_equal(to_numpy(got), to_numpy(expected), equal_nan=got.dtype.kind == "f"), where
    elif isinstance(expected, np.ndarray):
        assert type(got) is np.ndarray, where
        assert (got.dtype, got.shape) == (expected.dtype, expected.shape), where
        assert np.array_equal(got, expected, equal_nan=got.dtype.kind == "f"), where
    elif isinstance(expected, np.generic):
        assert type(got) is type(expected), where
        assert got.tobytes() == expected.tobytes(), where
    elif isinstance(expected, float):
        assert type(got) is float and repr(got) == repr(expected), where
    elif isinstance(expected, dict):
        assert type(got) is dict, where
        assert [(type(k), k) for k in got] == [(type(k), k) for k in expected], where
        for k in expected:
            assert_same(expected[k], got[k], f"{where}[{k!r}]")
    elif isinstance(expected, (list, tuple)):
        assert type(got) is type(expected) and len(got) == len(expected), where
        for i, (e, g) in enumerate(zip(expected, got)):
            assert_same(e, g, f"{where}[{i}]")
    else:
        assert type(got) is type(expected) and got == expected, where


def every_kind(device):
    """A nested state dict holding every kind of value a checkpoint stores."""
    on = backend.device(device)
    return {
        "tensors": {
            "f32": minilm.randn(3, 2, device=device),
            "f64": minilm.randn(2, 2, 2, dtype=minilm.float64, device=device),
            "i64": minilm.tensor([[-(2**62), 0, 7]], device=device),
            "bool": minilm.tensor([True, False, True], device=device),
            "scalar": minilm.tensor(2.5, device=device),
            "empty": minilm.zeros(0, 3, device=device),
            "transposed": minilm.Tensor(backend.to_device(np.arange(6.0).reshape(2, 3), on)).T,
            "special": minilm.tensor([math.nan, math.inf, -math.inf, -0.0], device=device),
        },
        "arrays": [
            np.arange(5, dtype=np.float16),
            np.array([[1, -2]], dtype=np.int32),
            np.array([255, 0], dtype=np.uint8),
            np.array([2**64 - 1], dtype=np.uint64),
            np.zeros((2, 0), dtype=np.int8),
            np.array(True),
            np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2],
        ],
        "numpy_scalars": (np.float32(0.1), np.int64(-3), np.bool_(False), np.float64(math.nan)),
        "numbers": [0, -1, 2**70, 0.1, -0.0, 1e308, math.nan, math.inf, -math.inf, True, False],
        "text": ["", "héllo ∑ 😀", "quote \" and \\ and \n"],
        "none": None,
        "empty": [{}, [], ()],
        7: {"int key": 1, 0: "zero", -5: [None]},
    }


@pytest.fixture
def ckpt(tmp_path):
    return tmp_path / "model.ckpt"


# ---------------------------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------------------------


def test_round_trip_every_kind_of_value(device, ckpt):
    sd = every_kind(device)
    minilm.save(sd, ckpt)
    back = minilm.load(ckpt, map_location=device)
    assert_same(sd, back)
    for t in back["tensors"].values():
        assert t.device == backend.device(device)
        assert not t.requires_grad
    assert all(type(a) is np.ndarray for a in back["arrays"])


def test_tensors_come_back_on_the_cpu_by_default(device, ckpt):
    minilm.save({"w": minilm.randn(4, 3, device=device)}, ckpt)
    w = minilm.load(ckpt)["w"]
    assert w.device == "cpu" and type(w.data) is np.ndarray
    assert w.data.flags.writeable


def test_optimizer_state_dict_keeps_int_keys_and_tuples(ckpt):
    p0, p1 = minilm.randn(3), minilm.randn(2, 2)
    sd = {
        "state": {0: {"step": 3, "exp_avg": p0, "exp_avg_sq": p0 * p0}, 1: {"step": 3, "exp_avg": p1}},
        "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "params": [0, 1]}],
    }
    minilm.save(sd, ckpt)
    back = minilm.load(ckpt)
    assert list(back["state"]) == [0, 1] and all(type(k) is int for k in back["state"])
    assert back["param_groups"][0]["betas"] == (0.9, 0.999)
    assert_same(sd, back)


def test_gradient_state_is_not_stored(ckpt):
    w = minilm.randn(2, 3, requires_grad=True)
    (w * w).sum().backward()
    minilm.save({"w": w}, ckpt)
    back = minilm.load(ckpt)["w"]
    assert not back.requires_grad and back.grad is None
    assert np.array_equal(back.numpy(), w.detach().numpy())


def test_a_tensor_saved_twice_is_stored_once_and_stays_shared(ckpt):
    emb = minilm.randn(5, 3)
    minilm.save({"encoder.weight": emb, "decoder.weight": emb, "other": minilm.randn(5, 3)}, ckpt)
    with np.load(ckpt, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["__meta__", "t0", "t1"]
    back = minilm.load(ckpt)
    assert back["encoder.weight"] is back["decoder.weight"]
    assert back["other"] is not back["encoder.weight"]


def test_file_layout_is_npz_with_json_metadata(ckpt):
    minilm.save({"w": minilm.ones(2, 3), "lr": 0.5, "ids": (1, 2)}, ckpt)
    with np.load(ckpt, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["__meta__", "t0"]
        meta = json.loads(npz["__meta__"].tobytes().decode("utf-8"))
        assert np.array_equal(npz["t0"], np.ones((2, 3), np.float32))
    assert meta == {
        "format": "minilm.checkpoint",
        "version": 1,
        "root": {
            "type": "dict",
            "items": [
                ["w", {"type": "tensor", "array": "t0", "dtype": "float32", "shape": [2, 3]}],
                ["lr", 0.5],
                ["ids", {"type": "tuple", "items": [1, 2]}],
            ],
        },
    }


def test_path_is_used_exactly_and_may_be_str_or_pathlike(tmp_path):
    minilm.save({"a": 1}, str(tmp_path / "weights.bin"))
    minilm.save({"b": 2}, pathlib.Path(tmp_path / "weights.npz"))
    assert sorted(os.listdir(tmp_path)) == ["weights.bin", "weights.npz"]
    assert minilm.load(str(tmp_path / "weights.bin")) == {"a": 1}
    assert minilm.load(tmp_path / "weights.npz") == {"b": 2}


def test_saving_again_replaces_the_file(ckpt):
    minilm.save({"step": 1}, ckpt)
    minilm.save({"step": 2, "w": minilm.zeros(2)}, ckpt)
    assert minilm.load(ckpt)["step"] == 2
    assert os.listdir(ckpt.parent) == [ckpt.name]


def _leaves():
    float_tensors = hnp.arrays(
        st.sampled_from([np.float32, np.float64, np.int64, np.bool_]),
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
    ).map(minilm.Tensor)
    arrays = hnp.arrays(
        st.sampled_from([np.float16, np.float32, np.int8, np.int32, np.uint8, np.uint64, np.bool_]),
        hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3),
    )
    numpy_scalars = hnp.from_dtype(np.dtype(np.float32)) | hnp.from_dtype(np.dtype(np.int16))
    return st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | float_tensors | arrays | (
        numpy_scalars)


def _containers(children):
    keys = st.text(max_size=6) | st.integers(-(2**40), 2**40)
    return (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(keys, children, max_size=4)
    )


@given(obj=st.recursive(_leaves(), _containers, max_leaves=12))
def test_round_trip_of_random_nested_structures(obj, tmp_path_factory):
    path = tmp_path_factory.mktemp("hypothesis") / "x.ckpt"
    minilm.save(obj, path)
    assert_same(obj, minilm.load(path))


# ---------------------------------------------------------------------------------------------
# what cannot be saved
# ---------------------------------------------------------------------------------------------


def _act(x):
    return x


@pytest.mark.parametrize(
    "obj, message",
    [
        ({"model": {"act": _act}}, "minilm.save: cannot store value of type 'function' at ['model']['act']"),
        ({"state": {0: [1, object()]}}, "cannot store value of type 'object' at ['state'][0][1]"),
        ({1, 2}, "cannot store value of type 'set' at the top level"),
        ([b"bytes"], "cannot store value of type 'bytes' at [0]"),
        ({"a": {(1, 2): 3}}, "dict key (1, 2) of type 'tuple' at ['a'] cannot be stored; keys must be str or int"),
        ({True: 1}, "dict key True of type 'bool' at the top level"),
        ({"x": np.array([object()], dtype=object)}, "cannot store a ndarray of dtype object at ['x']"),
        ({"x": np.array(["abc"])}, "cannot store a ndarray of dtype <U3 at ['x']"),
        ({"x": [np.complex64(1j)]}, "cannot store a numpy_scalar of dtype complex64 at ['x'][0]"),
    ],
)
def test_unsupported_values_name_their_place(obj, message, ckpt):
    minilm.save({"old": 1}, ckpt)
    with pytest.raises(TypeError, match=re.escape(message)):
        minilm.save(obj, ckpt)
    assert minilm.load(ckpt) == {"old": 1}
    assert os.listdir(ckpt.parent) == [ckpt.name]


def test_a_structure_containing_itself_is_refused(ckpt):
    loop = {"a": []}
    loop["a"].append(loop)
    with pytest.raises(ValueError, match=re.escape("the object contains itself at ['a'][0]")):
        minilm.save(loop, ckpt)
    assert not ckpt.exists()


def test_missing_directory_is_not_created(tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "m.ckpt"
    with pytest.raises(FileNotFoundError, match=re.escape(f"the directory '{target.parent}' does not exist")):
        minilm.save({"a": 1}, target)
    assert not (tmp_path / "no").exists()


def test_saving_onto_a_directory_is_an_error(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        minilm.save({"a": 1}, tmp_path)


# ---------------------------------------------------------------------------------------------
# atomic writes
# ---------------------------------------------------------------------------------------------


def _failing(error):
    """A stand-in for a function that fails with ``error`` (a full disk, an I/O error...)."""

    def fail(*args, **kwargs):
        raise error

    return fail


def _half_write_then(error):
    """A stand-in for numpy.savez that writes part of an archive, then fails with ``error``."""

    def savez(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half of an archive")
        raise error

    return savez


FAILURES = {
    "disk full in savez": (np, "savez", _half_write_then(OSError(28, "No space left on device"))),
    "ctrl-c in savez": (np, "savez", _half_write_then(KeyboardInterrupt())),
    "fsync fails": (os, "fsync", _failing(OSError(5, "Input/output error"))),
    "rename fails": (os, "replace", _failing(PermissionError(13, "Permission denied"))),
}


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failed_write_leaves_the_old_checkpoint_and_no_temp_file(failure, ckpt, monkeypatch):
    old = {"w": minilm.randn(3, 3), "step": 10}
    minilm.save(old, ckpt)
    before = ckpt.read_bytes()
    monkeypatch.setattr(*FAILURES[failure])
    with pytest.raises((OSError, KeyboardInterrupt)):
        minilm.save({"w": minilm.zeros(100), "step": 11}, ckpt)
    monkeypatch.undo()
    assert os.listdir(ckpt.parent) == [ckpt.name]
    assert ckpt.read_bytes() == before
    assert_same(old, minilm.load(ckpt))


def test_a_failed_safetensors_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    write_safetensors({"a": minilm.ones(2)}, path)
    before = path.read_bytes()
    monkeypatch.setattr(os, "fsync", _failing(OSError(28, "No space left on device")))
    with pytest.raises(OSError, match="No space left"):
        write_safetensors({"a": minilm.zeros(1000)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["w.safetensors"]
    assert path.read_bytes() == before


# ---------------------------------------------------------------------------------------------
# bad checkpoint files
# ---------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nope.ckpt"
    with pytest.raises(FileNotFoundError, match=re.escape(f"minilm.load: no such file '{path}'")):
        minilm.load(path)


@pytest.mark.parametrize("keep", [0, 1, 3, 30, 0.5, -100, -22, -1])
def test_truncated_file(keep, ckpt):
    minilm.save(every_kind("cpu"), ckpt)
    data = ckpt.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else (keep if keep >= 0 else len(data) + keep)
    ckpt.write_bytes(data[:n])
    with pytest.raises(CheckpointError, match=re.escape(f"minilm.load: '{ckpt}' is truncated or corrupt")) as e:
        minilm.load(ckpt)
    assert "save the checkpoint again" in str(e.value)


def test_flipped_bytes_in_the_metadata_are_detected(ckpt):
    minilm.save({"lr": 0.125, "w": minilm.ones(2)}, ckpt)
    data = bytearray(ckpt.read_bytes())
    start = data.index(b'{"format"')
    for i in range(start, data.index(b"}}", start)):
        bad = data.copy()
        bad[i] ^= 0x20
        ckpt.write_bytes(bad)
        with pytest.raises(CheckpointError, match="is truncated or corrupt .*Bad CRC-32.*reading '__meta__'"):
            minilm.load(ckpt)


def test_any_flipped_byte_gives_the_same_data_or_a_checkpoint_error(ckpt):
    original = {"w": minilm.randn(2, 3), "n": 3, "a": np.arange(4), "s": "hi", "t": (1, 2.5)}
    minilm.save(original, ckpt)
    data = ckpt.read_bytes()
    errors = 0
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0xFF
        ckpt.write_bytes(bad)
        try:
            assert_same(original, minilm.load(ckpt))
        except CheckpointError:
            errors += 1
    assert errors > len(data) // 2  # most bytes are covered by a CRC or checked; zip dates etc. are not


_UNPICKLED = []


def _record_unpickling(*args):
    _UNPICKLED.append(args)
    return 0.0


class _Trap:
    """Unpickling this calls _record_unpickling: the stand-in for malicious code in a file."""

    def __reduce__(self):
        return (_record_unpickling, ("code ran",))


def test_a_pickled_object_array_is_refused_not_unpickled(ckpt):
    trap = np.array([_Trap()], dtype=object)
    meta = {"format": "minilm.checkpoint", "version": 1,
            "root": {"type": "ndarray", "array": "t0", "dtype": "float64", "shape": [1]}}
    with open(ckpt, "wb") as f:
        np.savez(f, t0=trap, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    np.load(ckpt, allow_pickle=True)["t0"]  # the trap is armed: unpickling it does call the function
    assert _UNPICKLED == [("code ran",)]
    _UNPICKLED.clear()
    with pytest.raises(CheckpointError, match=r"the array 't0' cannot be read safely \(.*allow_pickle=False"):
        minilm.load(ckpt)
    assert _UNPICKLED == []


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is truncated or corrupt (the file is only 0 bytes long)"),
        (b"PK\x03", "is truncated or corrupt (the file is only 3 bytes long)"),
        (b"hello world, not a checkpoint", "is not a minilm checkpoint (a .npz archive starts with the zip"),
        (b"\x80\x04\x95 pickle", "is not a minilm checkpoint"),
        (b"\x12\0\0\0\0\0\0\0{}" + b" " * 16, "is not a minilm checkpoint (it looks like a safetensors file"),
    ],
)
def test_files_that_are_not_checkpoints(content, message, ckpt):
    ckpt.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(f"minilm.load: '{ckpt}' " + message)):
        minilm.load(ckpt)


def test_a_plain_npz_or_npy_is_not_a_checkpoint(tmp_path):
    np.savez(tmp_path / "plain.npz", weights=np.ones(3))
    with pytest.raises(CheckpointError, match=re.escape("is not a minilm checkpoint (it is a zip archive with the "
                                                        "members ['weights'] but without the '__meta__' entry")):
        minilm.load(tmp_path / "plain.npz")
    np.save(tmp_path / "one.npy", np.ones(3))
    with pytest.raises(CheckpointError, match="it is a single .npy array; read it with numpy.load"):
        minilm.load(tmp_path / "one.npy")


def test_a_torch_save_file_is_refused_with_a_hint(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2)}, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="torch.save file: those are pickles, which minilm never loads"):
        minilm.load(tmp_path / "model.pt")


def _rewrite(path, change_meta=None, raw_meta=None, extra=None, drop=None):
    """Rewrite a checkpoint with altered metadata or members, as an attacker or a bug might.
    ``raw_meta`` (bytes or an array) replaces the metadata member outright."""
    with np.load(path, allow_pickle=False) as npz:
        members = {name: npz[name] for name in npz.files}
    meta = json.loads(members["__meta__"].tobytes())
    if change_meta is not None:
        change_meta(meta)
    if raw_meta is None:
        raw_meta = json.dumps(meta).encode()
    members["__meta__"] = np.frombuffer(raw_meta, np.uint8) if isinstance(raw_meta, bytes) else raw_meta
    members.update(extra or {})
    for name in drop or ():
        del members[name]
    with open(path, "wb") as f:
        np.savez(f, **members)


def _w(meta):
    """The metadata node of the tensor 'w'."""
    return meta["root"]["items"][0][1]


def _append(item):
    return lambda meta: meta["root"]["items"].append(item)


ALTERATIONS = [
    ({"raw_meta": b"{not json"}, "has unreadable metadata: '__meta__' is not UTF-8 JSON (Expecting"),
    ({"raw_meta": b"\xff\xfe{}"}, "'__meta__' is not UTF-8 JSON ('utf-8' codec can't decode byte 0xff"),
    ({"raw_meta": np.zeros(3)}, "it is an array of dtype float64 and shape (3,), not 1-d uint8"),
    ({"raw_meta": b'{"x": NaN}'}, "NaN is not standard JSON"),
    ({"change_meta": lambda m: m.update(format="other")}, "is not a minilm checkpoint (its format is 'other'"),
    ({"change_meta": lambda m: m.update(version=2)}, "version 2, but this minilm reads version 1; it was written by a"),
    ({"change_meta": lambda m: m.update(version="1")}, "has format version '1', but this minilm reads version 1"),
    ({"change_meta": lambda m: m.pop("root")}, "the key 'root' is missing"),
    ({"drop": ["t0"]}, "bad metadata at ['w']: the array 't0' that it names is not in the file"),
    ({"change_meta": lambda m: _w(m).update(array="__meta__")}, "the array '__meta__' that it names is not"),
    ({"change_meta": lambda m: _w(m).update(dtype="float64")}, "is float32 [2, 3], but the metadata says float64"),
    ({"change_meta": lambda m: _w(m).update(shape=[3, 2])}, "but the metadata says float32 [3, 2]"),
    ({"change_meta": lambda m: _w(m).update(dtype="int32")}, "at ['w']: dtype 'int32' is not one of float32"),
    ({"change_meta": lambda m: _w(m).update(shape=[-1])}, "shape must be a list of non-negative ints"),
    ({"change_meta": lambda m: _w(m).update(type="pickle")}, "at ['w']: expected a value or an object with a known"),
    ({"change_meta": _append(["x", {"type": "float", "value": "1e9"}])}, "at ['x']: a float must be 'nan', 'inf'"),
    ({"change_meta": _append([[1], 2])}, "a dict item must be [key, value] with a str or int key, got [[1], 2]"),
    ({"change_meta": lambda m: m["root"].update(items="abc")}, "a dict needs a list of 'items'"),
    ({"extra": {"t1": np.ones(2)}}, "holds arrays that its metadata does not mention: ['t1']"),
]


@pytest.mark.parametrize("change, message", ALTERATIONS)
def test_altered_metadata_is_caught(change, message, ckpt):
    minilm.save({"w": minilm.ones(2, 3)}, ckpt)
    _rewrite(ckpt, **change)
    with pytest.raises(CheckpointError, match=re.escape(message)) as e:
        minilm.load(ckpt)
    assert str(e.value).startswith(f"minilm.load: '{ckpt}'")


def test_load_checks_map_location_first(ckpt):
    minilm.save({"a": 1}, ckpt)
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        minilm.load(ckpt, map_location="gpu")


# ---------------------------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------------------------


def safetensors_bytes(header: dict, data: bytes, pad: bool = True) -> bytes:
    """A safetensors file built by hand from the specification, independently of minilm's writer."""
    text = json.dumps(header).encode("utf-8")
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def test_safetensors_round_trip(device, tmp_path):
    path = tmp_path / "model.safetensors"
    tensors = {
        "emb.weight": minilm.randn(4, 3, device=device),
        "f64": minilm.randn(2, dtype=minilm.float64, device=device),
        "ids": minilm.tensor([[1, -2**40]], device=device),
        "mask": minilm.tensor([True, False], device=device),
        "scalar": minilm.tensor(3.0, device=device),
        "empty": minilm.zeros(0, 2, device=device),
        "transposed": minilm.randn(3, 2, device=device).T,
    }
    write_safetensors(tensors, path, metadata={"format": "pt", "note": "ünïcode"})
    back = read_safetensors(path, device=device)
    assert sorted(back) == sorted(tensors)
    for name, t in tensors.items():
        assert_same(t, back[name], name)
        assert back[name].device == backend.device(device)
    assert safetensors_metadata(path) == {"format": "pt", "note": "ünïcode"}


def test_safetensors_numpy_dtypes_come_back_as_minilm_dtypes(tmp_path):
    path = tmp_path / "np.safetensors"
    arrays = {
        "h": np.array([0.5, -2.0, 65504.0], np.float16),
        "i32": np.array([-(2**31), 2**31 - 1], np.int32),
        "i16": np.array([[-3], [4]], np.int16),
        "i8": np.array([-128, 127], np.int8),
        "u8": np.array([0, 255], np.uint8),
        "big_endian": np.array([1.5, -2.25], dtype=">f8"),
    }
    write_safetensors(arrays, path)
    back = read_safetensors(path)
    assert back["h"].dtype == minilm.float32 and back["h"].tolist() == [0.5, -2.0, 65504.0]
    for name in ("i32", "i16", "i8", "u8"):
        assert back[name].dtype == minilm.int64
        assert np.array_equal(back[name].numpy(), arrays[name].astype(np.int64))
    assert back["big_endian"].dtype == minilm.float64 and back["big_endian"].tolist() == [1.5, -2.25]
    assert safetensors_metadata(path) == {}


_AS_MINILM = {"float16": np.float32, "int32": np.int64, "int16": np.int64, "int8": np.int64, "uint8": np.int64}


@given(
    arrays=st.dictionaries(
        st.text(min_size=1, max_size=6).filter(lambda name: name != "__metadata__"),
        hnp.arrays(
            st.sampled_from(["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]),
            hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
        ),
        max_size=5,
    )
)
def test_safetensors_round_trip_of_random_arrays(arrays, tmp_path_factory):
    path = tmp_path_factory.mktemp("hypothesis") / "x.safetensors"
    write_safetensors(arrays, path)
    back = read_safetensors(path)
    assert sorted(back) == sorted(arrays)
    for name, arr in arrays.items():
        expected = arr.astype(_AS_MINILM.get(arr.dtype.name, arr.dtype))
        assert back[name].dtype == expected.dtype and back[name].shape == arr.shape, name
        assert np.array_equal(back[name].numpy(), expected, equal_nan=expected.dtype.kind == "f"), name


def test_safetensors_bytes_of_a_tiny_file(tmp_path):
    path = tmp_path / "tiny.safetensors"
    write_safetensors({"b": np.array([1, 2], np.int16), "a": minilm.tensor([1.5])}, path)
    header = (
        b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
        b'"b":{"dtype":"I16","shape":[2],"data_offsets":[4,8]}}'
    )
    assert len(header) == 107  # padded with 5 spaces to 112, a multiple of 8
    expected = (112).to_bytes(8, "little") + header + b"     " + b"\x00\x00\xc0\x3f" + b"\x01\x00\x02\x00"
    assert path.read_bytes() == expected


def test_safetensors_writer_aligns_every_tensor(tmp_path):
    path = tmp_path / "mixed.safetensors"
    arrays = {"u8": np.ones(3, np.uint8), "f16": np.ones(5, np.float16), "f64": np.ones(3), "i32": np.ones(1, np.int32),
              "b": np.ones(7, bool), "i64": np.ones(2, np.int64)}
    write_safetensors(arrays, path, metadata={"k": "v"})
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    assert n % 8 == 0
    header = json.loads(data[8 : 8 + n])
    assert header.pop("__metadata__") == {"k": "v"}
    ends = []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        assert (8 + n + begin) % arrays[name].itemsize == 0, name
        ends.append((begin, end))
    assert min(ends)[0] == 0 and max(ends)[1] == len(data) - 8 - n


def test_reading_hand_built_files_of_every_dtype(tmp_path):
    parts = [
        ("F64", [2], struct.pack("<2d", 1.25, -3.0)),
        ("I64", [1], struct.pack("<q", -(2**60))),
        ("F32", [], struct.pack("<f", 0.75)),
        ("I32", [2], struct.pack("<2i", -7, 2**31 - 1)),
        ("F16", [3], bytes.fromhex("003c 00c0 0038")),  # 1.0, -2.0, 0.5 as IEEE half floats
        ("BF16", [2, 2], bytes.fromhex("803f 00c0 003f 8043")),  # 1.0, -2.0, 0.5, 256.0 (top halves of float32)
        ("I16", [2], struct.pack("<2h", -300, 300)),
        ("I8", [3], struct.pack("<3b", -1, 0, 1)),
        ("U8", [2], bytes([0, 200])),
        ("BOOL", [3], bytes([1, 0, 1])),
        ("F32", [0, 4], b""),
    ]
    header, data = {"__metadata__": {"source": "hand"}}, b""
    for i, (dtype, shape, raw) in enumerate(parts):
        header[f"t{i}"] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    expected = [
        (minilm.float64, [1.25, -3.0]), (minilm.int64, [-(2**60)]), (minilm.float32, 0.75),
        (minilm.int64, [-7, 2**31 - 1]), (minilm.float32, [1.0, -2.0, 0.5]),
        (minilm.float32, [[1.0, -2.0], [0.5, 256.0]]), (minilm.int64, [-300, 300]), (minilm.int64, [-1, 0, 1]),
        (minilm.int64, [0, 200]), (minilm.bool, [True, False, True]), (minilm.float32, []),
    ]
    for pad in (True, False):  # without padding every tensor is misaligned: read correctly all the same
        path = tmp_path / f"hand-{pad}.safetensors"
        path.write_bytes(safetensors_bytes(header, data, pad=pad))
        back = read_safetensors(path)
        assert list(back) == [f"t{i}" for i in range(len(parts))]
        for i, (dtype, values) in enumerate(expected):
            assert back[f"t{i}"].dtype == dtype and back[f"t{i}"].tolist() == values, (pad, parts[i][0])
        assert back["t10"].shape == (0, 4)
        assert safetensors_metadata(path) == {"source": "hand"}


def _entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x05\x00\x00", "is only 3 bytes long, but a safetensors file starts with an 8-byte header length"),
        (struct.pack("<Q", 1000) + b"{}", "header length 1000 is more than the 2 bytes that follow it"),
        (struct.pack("<Q", 2**40) + b"{}", "header length 1099511627776 is over the 100000000-byte limit"),
        (struct.pack("<Q", 4) + b"{abc", "the header is not valid UTF-8 JSON"),
        (struct.pack("<Q", 4) + b'"\xff"}', "the header is not valid UTF-8 JSON ('utf-8' codec can't decode"),
        (struct.pack("<Q", 2) + b"[]", "the header must be a JSON object, got a list"),
        (safetensors_bytes({"a": _entry("F8_E4M3", [1], 0, 1)}, b"\0"),
         "tensor 'a': dtype 'F8_E4M3' is not supported; minilm reads F64, F32, F16, BF16"),
        (safetensors_bytes({"a": {"dtype": "F32", "shape": [1]}}, b"\0" * 4),
         "tensor 'a': expected exactly the keys ['data_offsets', 'dtype', 'shape'], got ['dtype', 'shape']"),
        (safetensors_bytes({"a": dict(_entry("F32", [1], 0, 4), extra=1)}, b"\0" * 4), "expected exactly the keys"),
        (safetensors_bytes({"a": [1, 2]}, b""), "tensor 'a': expected exactly the keys"),
        (safetensors_bytes({"a": _entry("F32", [-1], 0, 4)}, b"\0" * 4), "tensor 'a': shape must be a list of non-neg"),
        (safetensors_bytes({"a": _entry("F32", [1.0], 0, 4)}, b"\0" * 4), "shape must be a list of non-negative"),
        (safetensors_bytes({"a": _entry("F32", [1], 4, 0)}, b"\0" * 4), "data_offsets must be [begin, end] with 0 <="),
        (safetensors_bytes({"a": _entry("F32", [2], 0, 4)}, b"\0" * 4),
         "tensor 'a': dtype F32 and shape [2] need 8 bytes, but data_offsets [0, 4] span 4"),
        (safetensors_bytes({"a": _entry("F32", [2], 0, 8)}, b"\0" * 4),
         "tensor 'a': data_offsets [0, 8] reach past the end of the 4-byte data buffer"),
        (safetensors_bytes({"a": _entry("F32", [2], 0, 8), "b": _entry("F32", [2], 4, 12)}, b"\0" * 12),
         "tensors 'a' (bytes [0, 8)) and 'b' (bytes [4, 12)) overlap"),
        (safetensors_bytes({"a": _entry("F32", [1], 0, 4), "b": _entry("F32", [1], 8, 12)}, b"\0" * 12),
         "bytes [4, 8) of the data buffer belong to no tensor"),
        (safetensors_bytes({"a": _entry("F32", [1], 0, 4)}, b"\0" * 6),
         "the data buffer has 6 bytes but the tensors cover only the first 4; bytes [4, 6) belong to no tensor"),
        (struct.pack("<Q", 32) + b'{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":1}'[:32],
         "the header is not valid UTF-8 JSON"),
        (safetensors_bytes({"__metadata__": {"epochs": 3}}, b""), "must map strings to strings, but 'epochs' is 3"),
        (safetensors_bytes({"__metadata__": ["x"]}, b""), "'__metadata__' must be a JSON object"),
    ],
)
def test_safetensors_validation_errors(content, message, tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    for read, who in ((read_safetensors, "read_safetensors"), (safetensors_metadata, "safetensors_metadata")):
        with pytest.raises(SafetensorsError, match=re.escape(message)) as e:
            read(path)
        assert str(e.value).startswith(f"{who}: '{path}'")


def test_safetensors_duplicate_names_are_an_error(tmp_path):
    path = tmp_path / "dup.safetensors"
    text = b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}'
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"\1\2")
    with pytest.raises(SafetensorsError, match="the header names 'a' twice"):
        read_safetensors(path)


def test_safetensors_truncated_file_is_an_error(tmp_path):
    path = tmp_path / "cut.safetensors"
    write_safetensors({"w": minilm.randn(8, 8), "b": minilm.randn(8)}, path)
    data = path.read_bytes()
    for keep in (0, 7, 8, 20, len(data) - 1):
        path.write_bytes(data[:keep])
        with pytest.raises(SafetensorsError, match="truncated|not valid UTF-8 JSON|reach past the end"):
            read_safetensors(path)


def test_safetensors_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(f"read_safetensors: no such file '{tmp_path / 'x'}'")):
        read_safetensors(tmp_path / "x")


@pytest.mark.parametrize(
    "tensors, metadata, error, message",
    [
        ({1: minilm.ones(1)}, None, TypeError, "tensor names must be str, got 1 of type 'int'"),
        ({"__metadata__": minilm.ones(1)}, None, ValueError, "'__metadata__' is reserved; pass metadata= instead"),
        ({"a": [1.0, 2.0]}, None, TypeError, "tensor 'a' is a list, not a minilm Tensor or NumPy array"),
        ({"a": np.ones(2, np.uint16)}, None, TypeError, "tensor 'a' has dtype uint16, which safetensors cannot hold"),
        ({"a": np.array([None])}, None, TypeError, "tensor 'a' has dtype object"),
        ({"a": minilm.ones(1)}, {"epochs": 3}, TypeError, "metadata must map str to str, but 'epochs' -> 3 does not"),
        ({"a": minilm.ones(1)}, ["x"], TypeError, "metadata must be a dict of str -> str, got list"),
        ([minilm.ones(1)], None, TypeError, "tensors must be a dict of name -> tensor, got list"),
    ],
)
def test_safetensors_writer_errors(tensors, metadata, error, message, tmp_path):
    with pytest.raises(error, match=re.escape("write_safetensors: " + message)):
        write_safetensors(tensors, tmp_path / "x.safetensors", metadata=metadata)
    assert os.listdir(tmp_path) == []


def test_safetensors_agrees_with_the_reference_library(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy")
    theirs = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "h": np.array([1.5, -2], np.float16),
              "i": np.array([[7]], np.int32), "m": np.array([True, False]), "s": np.array(2.0)}
    st_numpy.save_file(theirs, str(tmp_path / "theirs.safetensors"), metadata={"by": "them"})
    back = read_safetensors(tmp_path / "theirs.safetensors")
    for name, arr in theirs.items():
        assert back[name].tolist() == arr.tolist(), name
    assert safetensors_metadata(tmp_path / "theirs.safetensors") == {"by": "them"}
    write_safetensors(theirs, tmp_path / "ours.safetensors", metadata={"by": "us"})
    loaded = st_numpy.load_file(str(tmp_path / "ours.safetensors"))
    for name, arr in theirs.items():
        assert loaded[name].dtype == arr.dtype and np.array_equal(loaded[name], arr), name


def test_bf16_and_f16_agree_with_torch(tmp_path):
    pytest.importorskip("safetensors")
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    values = [1.0, -2.5, 3.14159, 1e-3, 65000.0, -0.0]
    tensors = {"bf16": torch.tensor(values, dtype=torch.bfloat16), "f16": torch.tensor(values, dtype=torch.float16)}
    save_file(tensors, str(tmp_path / "torch.safetensors"))
    back = read_safetensors(tmp_path / "torch.safetensors")
    for name, t in tensors.items():
        assert back[name].dtype == minilm.float32
        assert np.array_equal(back[name].numpy(), t.float().numpy()), name
