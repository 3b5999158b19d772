"""Checking a backward against finite differences: ``gradcheck`` and ``GradcheckError``, both
re-exported from ``minilm.autograd``."""

from __future__ import annotations

import numpy as np

from minilm import backend
from minilm.tensor import Tensor


class GradcheckError(AssertionError):
    """The analytic gradient (from backward) and the numeric one (from finite differences) differ."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, samples=None, seed=0) -> bool:
    """Check the gradients that ``backward`` computes for ``fn(*inputs)`` against central finite
    differences. Returns True, or raises ``GradcheckError`` describing the first disagreement.

    How it works
        The outputs of ``fn`` are reduced to one number ``L = sum(out * W)`` with a fixed random
        weight ``W`` (so every output element matters, each with its own weight). Then:

        * analytic: ``L.backward()`` gives dL/dx for every input ``x`` that requires grad;
        * numeric: for each element ``x_i``, ``(L(x_i + eps) - L(x_i - eps)) / (2 eps)``, which
          differs from the true derivative by O(eps^2).

        An element passes when ``|analytic - numeric| <= atol + rtol * |numeric|``. Inputs must be
        float64: in float32 the rounding error of L, divided by 2*eps, would swamp the difference.
        ``samples=k`` checks only k random elements of each input (for large inputs). ``fn`` must
        be deterministic: seed it or switch dropout off.

    Reading a failure
        The error names the input (its position in ``inputs``), the element, both values and how
        many of the checked elements disagree. Some patterns:

        * analytic 0 where numeric is not: backward returned None for that input, or the graph
          was cut (a ``.data``, ``.detach()`` or ``no_grad`` in the forward);
        * a constant ratio between the two (2.0, 0.5, -1.0): a factor or a sign is missing in
          the derivative;
        * only some elements wrong, e.g. along one dimension: a transposed or mis-broadcast
          term (the gradient of a broadcast input must be summed over its copies);
        * wrong only near a kink (relu at 0, abs at 0, max at a tie): the function is not
          differentiable there, and the finite difference straddles the kink; move the point.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: none of the inputs requires grad, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != backend.float64:
            raise TypeError(
                f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64 "
                "(pass x.double(), or create it with dtype=minilm.float64)"
            )

    from minilm.autograd import no_grad

    rng = np.random.default_rng(seed)
    saved_grads = [inputs[i].grad for i in checked]
    try:
        for i in checked:
            inputs[i].grad = None
        outputs = _float_outputs(fn(*inputs))
        weights = [
            backend.to_device(rng.standard_normal(o.shape), backend.device_of(o.data)) for o in outputs
        ]
        loss = None
        for o, w in zip(outputs, weights):
            term = (o * Tensor._wrap(w)).sum()
            loss = term if loss is None else loss + term
        if loss is None or not loss.requires_grad:
            raise ValueError("gradcheck: fn's output does not depend on any input that requires grad")
        loss.backward()
        analytic = {
            i: (backend.to_device(inputs[i].grad.data, backend.CPU) if inputs[i].grad is not None else np.zeros(inputs[i].shape))
            for i in checked
        }
    finally:
        for i, g in zip(checked, saved_grads):
            inputs[i].grad = g

    def value() -> float:
        total = 0.0
        for o, w in zip(_float_outputs(fn(*inputs)), weights):
            total += float((o.data * w).sum())
        return total

    with no_grad():
        for i in checked:
            x = inputs[i].data
            n = x.size
            flat = np.arange(n) if samples is None or samples >= n else rng.choice(n, size=samples, replace=False)
            failures = []
            for f in flat:
                idx = np.unravel_index(int(f), x.shape)
                orig = float(x[idx])
                x[idx] = orig + eps
                plus = value()
                x[idx] = orig - eps
                minus = value()
                x[idx] = orig
                numeric = (plus - minus) / (2 * eps)
                got = float(analytic[i][idx]) + 0.0  # + 0.0 turns -0.0 into 0.0 for printing
                if not abs(got - numeric) <= atol + rtol * abs(numeric):
                    failures.append((idx, got, numeric))
            if failures:
                raise GradcheckError(_describe(i, inputs[i], failures, len(flat), atol, rtol))
    return True


def _float_outputs(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    result = [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]
    if not result:
        raise ValueError("gradcheck: fn must return a floating-point Tensor (or a tuple with at least one)")
    return result


def _describe(i, x, failures, checked, atol, rtol) -> str:
    idx, got, numeric = failures[0]
    element = tuple(int(j) for j in idx)
    lines = [
        f"gradcheck failed for input {i} (shape {x.shape}) at element {element}:",
        f"  analytic (backward) {got:.6g}  vs  numeric (finite differences) {numeric:.6g}",
        f"  |difference| {abs(got - numeric):.3g} > atol + rtol*|numeric| = {atol + rtol * abs(numeric):.3g}",
        f"  {len(failures)} of {checked} checked elements of this input disagree.",
    ]
    ratios = [g / n for _, g, n in failures if abs(n) > 1e-8]
    if all(g == 0 for _, g, _ in failures):
        lines.append("  The analytic gradient is 0 there: did backward return None, or was the graph cut?")
    elif ratios and np.allclose(ratios, ratios[0], rtol=1e-3):
        lines.append(f"  analytic/numeric is {ratios[0]:.4g} throughout: a missing factor or sign?")
    return "\n".join(lines)
