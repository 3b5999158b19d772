"""``minilm.cuda``: is a GPU usable, and how many are there? (CuPy is imported only when asked.)"""

from minilm import backend


def is_available() -> bool:
    """True when CuPy is installed and sees at least one NVIDIA GPU."""
    return backend.cuda_is_available()


def device_count() -> int:
    """Number of GPUs CuPy sees (0 without CuPy)."""
    return backend.cuda_device_count()


def synchronize() -> None:
    """Wait until the GPU has finished all queued work (for timing); a no-op without a GPU."""
    if backend.cuda_is_available():
        backend.require_cupy().cuda.Device().synchronize()
