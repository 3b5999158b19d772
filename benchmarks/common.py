"""Shared by the benchmarks: thread set-up (before NumPy is imported), round-robin median timing
and formatting."""

from __future__ import annotations

import os
import sys
import time


def set_threads(n: int) -> None:
    """Use ``n`` threads in BLAS and OpenMP. Call before NumPy (or minilm) is first imported."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def set_openblas_coretype(name: str | None) -> None:
    """Make OpenBLAS use the kernels for CPU ``name`` (e.g. ``SkylakeX`` for AVX-512) instead of the
    ones its CPU detection picks. Call before NumPy is first imported. Needed where the detection is
    wrong: the OpenBLAS 0.3.31 in NumPy 2.4's wheels takes an AMD EPYC with AVX-512 (Zen 4) for a
    Haswell and runs AVX2 kernels, about half the speed of its AVX-512 ones (check with
    ``OPENBLAS_VERBOSE=2``). Never name a CPU whose instructions the machine does not have."""
    if name:
        os.environ["OPENBLAS_CORETYPE"] = name


def configure(args) -> None:
    """The set-up every benchmark does with its parsed arguments, before NumPy is imported: threads
    (``args.threads``), the OpenBLAS kernels (``args.openblas_coretype``, when it has one) and keeping
    freed memory (``args.keep_memory``, when set)."""
    set_threads(args.threads)
    set_openblas_coretype(getattr(args, "openblas_coretype", None))
    if getattr(args, "keep_memory", False):
        keep_freed_memory()


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of handing big blocks back to the
    operating system (``mallopt`` M_MMAP_THRESHOLD / M_TRIM_THRESHOLD, as the environment
    variables ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` would). By default every
    large temporary array is a fresh ``mmap`` whose pages fault in on first touch, and for
    workloads that allocate 100+ MB per call that page-faulting can cost more than the arithmetic,
    for PyTorch as much as for NumPy. Returns False where this is not glibc."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 1 << 30)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))


def import_torch(threads: int):
    """PyTorch with ``threads`` threads, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def median_times(fns: dict, repeats: int, sample_seconds: float = 0.02) -> dict:
    """Median seconds per call of each function in ``fns``. The samples are taken round-robin
    (one sample of each function in turn), so that a change in machine load affects all of them
    alike instead of whichever happened to run during it.

    Time PyTorch in a group of its own: its OpenMP threads keep spinning for a while after a
    parallel region, which would slow down a NumPy sample taken right after a PyTorch one."""
    loops = {}
    for name, fn in fns.items():
        fn()  # warm up
        t0 = time.perf_counter()
        fn()
        once = time.perf_counter() - t0
        loops[name] = max(1, int(sample_seconds / max(once, 1e-9)))
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            n = loops[name]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t0) / n)
    return {name: sorted(s)[len(s) // 2] for name, s in samples.items()}


def fmt(seconds: float) -> str:
    return f"{seconds * 1e6:10.1f} us" if seconds < 1e-2 else f"{seconds * 1e3:10.2f} ms"


def synchronize(device: str) -> None:
    """Wait for the GPU's queued work (so that a timing includes it); nothing on the CPU."""
    if device != "cpu":
        import minilm

        minilm.cuda.synchronize()


def torch_device(torch, device: str):
    """The PyTorch device for ``device`` ("cpu" or "cuda"), or None where PyTorch is missing or
    its build has no CUDA (the benchmark then leaves the PyTorch column empty)."""
    if torch is None:
        return None
    if device == "cpu":
        return "cpu"
    return "cuda" if torch.cuda.is_available() else None


def header(args, np, torch) -> str:
    """The first line of a report: threads, repeats, device and the library versions."""
    return f"threads={args.threads}  repeats={args.repeats}  device={args.device}  numpy {np.__version__}" + (
        f"  torch {torch.__version__}" if torch else "  (torch not installed)"
    )


def compare(name: str, ours, theirs, repeats: int, sample_seconds: float, width: int) -> None:
    """Time ``ours`` and (when there is one) ``theirs`` in separate groups and print one row: the
    two medians and their ratio."""
    t_m = median_times({"m": ours}, repeats, sample_seconds)["m"]
    t_t = median_times({"t": theirs}, repeats, sample_seconds)["t"] if theirs else None
    dash = f"{'-':>13s}"
    ratio = f"{t_m / t_t:13.2f}" if t_t else dash
    print(f"{name:{width}s} {fmt(t_m)} {fmt(t_t) if t_t else dash} {ratio}", flush=True)
