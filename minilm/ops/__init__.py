"""Primitive differentiable operations, one module per family:

- ``elementwise``: arithmetic, nonlinearities, maximum/minimum/clamp, where, comparisons, copies
- ``reductions``: sum, mean, var/std, max/min, logsumexp, argmax/argmin
- ``shape``: reshape, permute/transpose, (un)squeeze, flatten, expand, cat, stack, split, chunk, pad
- ``indexing``: ``t[key]`` and gather
- ``matmul``: batched matrix multiplication

Each op is a ``minilm.autograd.Function`` with a hand-written backward.
"""
