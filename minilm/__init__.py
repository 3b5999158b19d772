"""minilm: a small deep-learning library written to be read, with every gradient written out by
hand and checked. NumPy on the CPU, CuPy on NVIDIA GPUs, PyTorch's names and semantics.

    >>> import minilm
    >>> x = minilm.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""

from minilm import backend
from minilm.backend import (
    Device as _Device,
    float32,
    float64,
    get_default_dtype,
    get_rng_state,
    int64,
    manual_seed,
    set_default_dtype,
    set_rng_state,
)
from minilm.backend import bool_ as bool  # noqa: A001  (minilm.bool, as torch.bool)
from minilm.tensor import Tensor
from minilm import autograd, cuda  # noqa: E402
from minilm.autograd import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from minilm.creation import (
    arange,
    full,
    full_like,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from minilm.ops.elementwise import (
    abs,
    add,
    clamp,
    clone,
    div,
    eq,
    exp,
    ge,
    gt,
    le,
    log,
    logical_and,
    logical_not,
    logical_or,
    lt,
    masked_fill,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
    where,
)
from minilm.ops.indexing import gather
from minilm.ops.matmul import matmul
from minilm.ops.special import erf
from minilm.ops.reductions import all, any, argmax, argmin, logsumexp, max, mean, min, std, sum, var
from minilm.ops.shape import (
    cat,
    chunk,
    expand,
    flatten,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from minilm.io import load, save
from minilm import nn, optim  # noqa: E402

clip = clamp
concat = cat

__version__ = "0.1.0"


def device(spec) -> _Device:
    """``minilm.device("cuda:0")``: a Device, as ``torch.device``."""
    return backend.device(spec)
