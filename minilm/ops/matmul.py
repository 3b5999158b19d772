"""Matrix multiplication, batched and broadcasting, with PyTorch's rules for 1-D operands.

For ``C = A @ B`` with ``A`` of shape (n, k) and ``B`` of shape (k, m),
``C_ij = sum_p A_ip B_pj``, so ``dL/dA_ip = sum_j G_ij B_pj`` and ``dL/dB_pj = sum_i A_ip G_ij``::

    dL/dA = G @ B^T        dL/dB = A^T @ G

With batch dimensions the same holds for each matrix of the batch; where a batch dimension was
broadcast (``A`` of shape (n, k) times ``B`` of shape (b, k, m)), the engine sums the gradient
over the copies. A 1-D operand is treated as a matrix with one row (on the left) or one column
(on the right) that is removed again from the result; backward puts it back, multiplies, and
removes it from the gradient.
"""

from __future__ import annotations

from minilm.autograd import Function
from minilm.ops.elementwise import binary_operands
from minilm.tensor import Tensor


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        # Give 1-D operands (and the gradient) their matrix dimension back.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        ga = gb = None
        if need_a:
            ga = g @ b2.swapaxes(-1, -2)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if need_b:
            gb = a2.swapaxes(-1, -2) @ g
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb

    @classmethod
    def explain_failure(cls, arrays, kwargs, error):
        a, b = arrays
        return (
            f"batch dimensions {a.shape[:-2]} and {b.shape[:-2]} of shapes {a.shape} and "
            f"{b.shape} cannot be broadcast together"
        )


def matmul(input, other):
    """``input @ other``. 1-D @ 1-D is a dot product; a 1-D operand on the left is a row vector,
    on the right a column vector; leading (batch) dimensions broadcast."""
    a, b = binary_operands(input, other)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul: both operands must be tensors (or arrays), not numbers; use * to scale")
    sa, sb = a.shape, b.shape
    if not sa or not sb:
        raise ValueError(f"matmul: both arguments need at least one dimension, got shapes {sa} and {sb}")
    k_a = sa[-1]
    k_b = sb[0] if len(sb) == 1 else sb[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {sa} and {sb} do not align: {k_a} != {k_b}")
    return MatMul.apply(a, b)
