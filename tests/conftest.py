"""Shared test set-up: every test that takes a ``device`` argument runs once per device.

The ``cuda`` case carries the ``gpu`` marker and is skipped when CuPy finds no GPU, so the same
assertions run on a CPU-only machine (``pytest``) and on a GPU machine (``pytest -m gpu``).
"""

import os

import pytest
from hypothesis import HealthCheck, settings

import minilm

os.environ.setdefault("MINILM_SMOKE", "1")

settings.register_profile(
    "default",
    max_examples=int(os.environ.get("MINILM_HYPOTHESIS_EXAMPLES", "50")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("default")

CUDA = minilm.cuda.is_available()
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param(
        "cuda",
        id="cuda",
        marks=[pytest.mark.gpu, pytest.mark.skipif(not CUDA, reason="CuPy finds no GPU")],
    ),
]


def pytest_generate_tests(metafunc):
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", DEVICES)


@pytest.fixture(autouse=True)
def _fresh_state():
    """Each test starts from the same seed and the default dtype float32."""
    minilm.manual_seed(0)
    yield
    minilm.set_default_dtype(minilm.float32)
