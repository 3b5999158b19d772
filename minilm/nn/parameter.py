"""``Parameter``: a Tensor that a Module registers as one of its learnable weights."""

from __future__ import annotations

from minilm.tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that requires grad and is registered by the Module it is assigned to
    (``self.weight = Parameter(...)``), so that ``module.parameters()`` and ``state_dict()`` find
    it. It wraps the data of the tensor or array it is given without copying."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            from minilm.creation import zeros

            data = zeros(0)
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=False)
        if requires_grad:
            if self.data.dtype.kind != "f":
                raise TypeError(f"Parameter: only float tensors can require grad, got {self.data.dtype}")
            self._requires_grad = True

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
