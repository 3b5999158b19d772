"""The one place where NumPy and CuPy differ.

Everything above this module gets its array module from the arrays it holds::

    xp = backend.xp_of(x)      # numpy for a numpy.ndarray, cupy for a cupy.ndarray
    y = xp.exp(x)

so the same code runs on the CPU and on an NVIDIA GPU. CuPy is optional: it is imported the
first time a CUDA device is asked for, never by ``import minilm``.

This module also owns what has no array to look at: devices, the four dtypes minilm supports,
the default dtype and the random number generators (one per device, seeded by
``minilm.manual_seed``), and the few operations whose NumPy and CuPy spellings differ
(scatter-add, moving arrays between devices, checking indices that CuPy would silently wrap).
"""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------------------------

float32 = np.dtype("float32")
float64 = np.dtype("float64")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")

#: The dtypes a minilm Tensor can have. CuPy uses NumPy's dtype objects, so these serve both.
DTYPES = (float32, float64, int64, bool_)
FLOAT_DTYPES = (float32, float64)

_default_dtype = float32


def get_default_dtype() -> np.dtype:
    """The dtype that Python floats and ``randn``/``rand``/``zeros`` get when none is given."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Make ``dtype`` (float32 or float64) the default floating dtype, as ``torch.set_default_dtype``."""
    global _default_dtype
    dtype = canonical_dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"set_default_dtype: the default must be float32 or float64, got {dtype}")
    _default_dtype = dtype


def canonical_dtype(dtype) -> np.dtype:
    """Map what a user may write (``minilm.float64``, ``"float64"``, ``float``, ``np.int32``) to one
    of the four supported dtypes; other integer widths become int64. Anything else is an error."""
    if dtype is float:
        return _default_dtype
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}; minilm supports float32, float64, int64 and bool")
    if d in DTYPES:
        return DTYPES[DTYPES.index(d)]
    if d.kind in "iu":
        return int64
    raise TypeError(f"unsupported dtype {d}; minilm supports float32, float64, int64 and bool")


# ---------------------------------------------------------------------------------------------
# CuPy, imported lazily
# ---------------------------------------------------------------------------------------------

_cupy = None
_cupy_error: str | None = None


def _import_cupy():
    """Import CuPy on first use; remember why it failed so the error can say so."""
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() < 1:
                _cupy_error = "CuPy is installed but finds no CUDA device"
            else:
                _cupy = cupy
        except Exception as e:  # ImportError, or a CUDA driver error raised by CuPy
            _cupy_error = f"CuPy is not usable ({type(e).__name__}: {e})"
    return _cupy


def cuda_is_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    return _import_cupy() is not None


def cuda_device_count() -> int:
    cp = _import_cupy()
    return cp.cuda.runtime.getDeviceCount() if cp is not None else 0


def require_cupy():
    cp = _import_cupy()
    if cp is None:
        raise RuntimeError(
            f"a CUDA device was asked for, but {_cupy_error}. On a machine with an NVIDIA GPU, "
            "install CuPy for its CUDA version: pip install cupy-cuda12x (or cupy-cuda13x), or from "
            "minilm's checkout pip install -e '.[cuda12]' (or '.[cuda13]'). Otherwise keep the "
            "tensors on 'cpu'."
        )
    return cp


def is_cuda_array(a) -> bool:
    return type(a).__module__.startswith("cupy")


def xp_of(a):
    """The array module (``numpy`` or ``cupy``) that owns array ``a``."""
    if type(a) is np.ndarray:
        return np
    if is_cuda_array(a):
        return _cupy
    return np


# ---------------------------------------------------------------------------------------------
# devices
# ---------------------------------------------------------------------------------------------


class Device:
    """Where a tensor's data lives: ``cpu`` (a NumPy array) or ``cuda:N`` (a CuPy array on GPU N).

    Compares equal to its string form, so ``t.device == "cpu"`` works as in PyTorch.
    """

    __slots__ = ("type", "index")

    def __init__(self, type: str, index: int | None = None):
        if type == "cuda" and index is None:
            index = 0
        self.type = type
        self.index = index

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}'" + ("" if self.index is None else f", index={self.index}") + ")"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except ValueError:
                return False
        if isinstance(other, Device):
            return self.type == other.type and self.index == other.index
        return NotImplemented

    def __hash__(self):
        return hash((self.type, self.index))


CPU = Device("cpu")


def device(spec) -> Device:
    """Parse ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a Device into a Device."""
    if isinstance(spec, Device):
        return spec
    if isinstance(spec, str):
        name, _, idx = spec.partition(":")
        if name == "cpu" and not idx:
            return CPU
        if name == "cuda":
            if not idx:
                return Device("cuda", 0)
            if idx.isdigit():
                return Device("cuda", int(idx))
    raise ValueError(f"unknown device {spec!r}: use 'cpu', 'cuda' or 'cuda:N'")


def device_of(a) -> Device:
    if type(a) is np.ndarray:
        return CPU
    if is_cuda_array(a):
        return Device("cuda", a.device.id)
    return CPU


def to_device(a, dev: Device):
    """Copy array ``a`` to device ``dev`` (no copy when it is already there)."""
    if dev.type == "cpu":
        return a.get() if is_cuda_array(a) else a
    cp = require_cupy()
    if dev.index >= cp.cuda.runtime.getDeviceCount():
        raise RuntimeError(f"device {dev} does not exist: this machine has {cuda_device_count()} GPU(s)")
    with cp.cuda.Device(dev.index):
        return cp.asarray(a)


def xp_for(dev: Device):
    """The array module that creates arrays on ``dev``."""
    return np if dev.type == "cpu" else require_cupy()


class on_device:
    """Context manager: make ``dev`` the current CUDA device while creating arrays (no-op on CPU)."""

    def __init__(self, dev: Device):
        self.ctx = require_cupy().cuda.Device(dev.index) if dev.type == "cuda" else None

    def __enter__(self):
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.__exit__(*exc)


# ---------------------------------------------------------------------------------------------
# random numbers: one generator per device, all reseeded by manual_seed
# ---------------------------------------------------------------------------------------------

_seed = None
_generators: dict = {}
#: Where each CUDA device's stream stands: ``{Device: [seed, offset]}`` (see ``_cuda_generator_at``).
_cuda_positions: dict = {}

#: Each draw on a CUDA device starts at an offset that is a multiple of this, so that the offset,
#: not the history of the generator, says where a draw's numbers come from (and can be saved).
CUDA_BLOCK = 1 << 16


def manual_seed(seed: int) -> None:
    """Seed every device's generator. The same seed gives the same numbers on the same device;
    NumPy and CuPy use different generators, so CPU and GPU streams differ from each other."""
    global _seed
    _seed = int(seed)
    _generators.clear()
    _cuda_positions.clear()


def generator(dev: Device):
    """The random generator of ``dev``: ``numpy.random.Generator`` on CPU, ``cupy.random.RandomState``
    (cuRAND's Philox generator) on CUDA, created on first use from the last ``manual_seed``."""
    g = _generators.get(dev)
    if g is None:
        if dev.type == "cpu":
            g = np.random.default_rng(_seed)
        else:
            cp = require_cupy()
            from cupy.cuda import curand

            position = _cuda_positions.setdefault(dev, [_fresh_cuda_seed(), 0])
            with cp.cuda.Device(dev.index):
                g = cp.random.RandomState(position[0], method=curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)
        _generators[dev] = g
    return g


def _fresh_cuda_seed() -> int:
    """The seed of a new CUDA generator: the last ``manual_seed``, or 63 random bits from the
    operating system if there was none (drawn here, so that ``get_rng_state`` can record it)."""
    if _seed is not None:
        return _seed
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))


def _cuda_generator_at(dev: Device, n: int):
    """The CUDA generator of ``dev``, moved to the start of the next unused block, for a draw of
    ``n`` numbers.

    cuRAND keeps its position (the *offset*) on the GPU side and cannot report it, so minilm keeps
    it instead: every draw starts at an offset that minilm chose and recorded, ``CUDA_BLOCK``-aligned
    and past everything drawn before (a float64 or a normal pair may take several 32-bit values,
    and rejection sampling in ``randint`` a few more, hence the room of ``4 n``). The pair (seed,
    offset) is then the whole state of the stream, and ``set_rng_state`` can put it back."""
    g = generator(dev)
    from cupy.cuda import curand

    position = _cuda_positions[dev]
    curand.setGeneratorOffset(g._generator, position[1])
    position[1] += -(-(4 * int(n) + 1) // CUDA_BLOCK) * CUDA_BLOCK
    return g


def random_normal(dev: Device, shape, dtype):
    if dev.type == "cpu":
        return generator(dev).standard_normal(size=shape, dtype=dtype)
    g = _cuda_generator_at(dev, _count(shape))
    with on_device(dev):
        return g.standard_normal(size=shape, dtype=dtype)


def random_uniform(dev: Device, shape, dtype):
    if dev.type == "cpu":
        return generator(dev).random(size=shape, dtype=dtype)
    g = _cuda_generator_at(dev, _count(shape))
    with on_device(dev):
        return g.random_sample(size=shape, dtype=dtype)


def random_integers(dev: Device, low, high, shape):
    if dev.type == "cpu":
        return generator(dev).integers(low, high, size=shape, dtype=np.int64)
    g = _cuda_generator_at(dev, _count(shape))
    with on_device(dev):
        return g.randint(low, high, size=shape, dtype=np.int64)


def _count(shape) -> int:
    """The number of elements of an array of ``shape`` (an int or a tuple)."""
    return int(np.prod(shape, dtype=np.int64)) if not isinstance(shape, (int, np.integer)) else int(shape)


def get_rng_state() -> dict:
    """The state of every random generator as plain data (dicts, ints, strings, None), which JSON
    and ``minilm.save`` can store; ``set_rng_state`` puts it back, so that the numbers drawn after
    it are the ones that would have been drawn anyway (the exact resume of a training run)::

        {"seed": 0,                                   # the last manual_seed (None: never seeded)
         "generators": {
             "cpu": {"bit_generator": "PCG64", "state": {...}, ...},   # NumPy's own description
             "cuda:0": {"seed": 0, "offset": 131072}}}                 # see _cuda_generator_at

    A device whose generator was never used is left out: after ``set_rng_state`` it is created
    from ``seed`` on first use, as it would have been."""
    generators = {}
    for dev, g in _generators.items():
        if dev.type == "cpu":
            generators[str(dev)] = _plain_copy(g.bit_generator.state)
    for dev, (seed, offset) in _cuda_positions.items():
        generators[str(dev)] = {"seed": int(seed), "offset": int(offset)}
    return {"seed": _seed, "generators": generators}


def set_rng_state(state) -> None:
    """Restore what ``get_rng_state`` returned. Everything is checked first: on a bad state
    (ValueError naming the problem) the generators are left as they were. A CUDA entry needs no
    GPU to be restored: it is kept and used when that device draws its first number."""
    where = "set_rng_state"
    if not isinstance(state, dict) or "seed" not in state or not isinstance(state.get("generators"), dict):
        raise ValueError(f"{where}: expected the dict that get_rng_state returns, with 'seed' and 'generators'")
    seed = state["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"{where}: 'seed' must be an int or None, got {seed!r}")
    cpu, cuda = {}, {}
    for name, entry in state["generators"].items():
        try:
            dev = device(name)
        except ValueError:
            raise ValueError(f"{where}: unknown device {name!r} in 'generators'") from None
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: the state of {name} must be a dict, got {type(entry).__name__}")
        if dev.type == "cpu":
            g = np.random.default_rng()
            try:
                g.bit_generator.state = _plain_copy(entry)
            except (TypeError, ValueError, KeyError) as e:
                raise ValueError(f"{where}: the state of {name} is not a NumPy generator state ({e})") from None
            cpu[dev] = g
        else:
            values = [entry.get("seed"), entry.get("offset")]
            if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in values):
                raise ValueError(
                    f"{where}: the state of {name} must be {{'seed': int >= 0, 'offset': int >= 0}}, got {entry}"
                )
            cuda[dev] = [int(v) for v in values]
    global _seed
    _seed = None if seed is None else int(seed)
    _generators.clear()
    _generators.update(cpu)
    _cuda_positions.clear()
    _cuda_positions.update(cuda)


def _plain_copy(value):
    """A deep copy of nested dicts/lists with NumPy integers made Python ints (JSON-ready)."""
    if isinstance(value, dict):
        return {k: _plain_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_copy(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


# ---------------------------------------------------------------------------------------------
# operations whose NumPy and CuPy spellings differ
# ---------------------------------------------------------------------------------------------


def scatter_add(target, index, values) -> None:
    """``target[index] += values`` where repeated indices ACCUMULATE (plain ``+=`` would keep only
    one of them). NumPy spells it ``np.add.at``, CuPy ``cupyx.scatter_add``."""
    if type(target) is np.ndarray:
        np.add.at(target, index, values)
    else:
        import cupyx

        cupyx.scatter_add(target, index, values)


def check_index_range(op: str, idx, size: int, dim: int) -> None:
    """Raise IndexError if an integer index array has a value outside ``[-size, size)``.

    NumPy raises on its own, but CuPy silently wraps out-of-range indices; checking here makes the
    error the same on both devices."""
    if idx.size == 0:
        return
    lo, hi = int(idx.min()), int(idx.max())
    if lo < -size or hi >= size:
        bad = hi if hi >= size else lo
        raise IndexError(f"{op}: index {bad} is out of range for dimension {dim} of size {size}")
