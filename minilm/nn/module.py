"""``Module``: the base class of every layer and model.

A Module holds Parameters, buffers (non-learnable tensors saved with the model, such as position
ids) and sub-Modules, all registered simply by assigning them as attributes::

    class TwoLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(4, 8)      # a sub-module
            self.out = nn.Linear(8, 2)

        def forward(self, x):
            return self.out(self.hidden(x).relu())

Everything else (``parameters()``, ``state_dict()``, ``to()``, ``train()``/``eval()``...) walks the
tree of registered children, in registration order, with PyTorch's names: a parameter's name is
its path of attribute names, ``"hidden.weight"``.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from minilm import backend
from minilm.nn.parameter import Parameter
from minilm.tensor import Tensor

#: What ``load_state_dict(strict=False)`` returns, as in PyTorch.
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of all layers and models; subclasses define ``forward``."""

    training: bool

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------------------------------
    # registration
    # ------------------------------------------------------------------------------------------

    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() was called: call super().__init__() first "
                f"in {type(self).__name__}.__init__"
            )
        params, buffers, modules = d["_parameters"], d["_buffers"], d["_modules"]
        if isinstance(value, (Parameter, Module)):
            for store in (params, buffers, modules):
                store.pop(name, None)
            d.pop(name, None)
            (params if isinstance(value, Parameter) else modules)[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to parameter {name!r} of {type(self).__name__}: "
                    "wrap it in nn.Parameter(...), or assign None"
                )
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer {name!r}: expected a Tensor or None")
            buffers[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to submodule {name!r}: expected a Module or None"
                )
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param) -> None:
        """Register ``param`` (a Parameter, or None for an absent optional one such as a bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got {type(param).__name__}")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Register a tensor that is part of the module's state but not learned (saved in the
        state_dict unless ``persistent=False``; moved by ``to()``)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        self.__dict__.pop(name, None)
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------------------------------------
    # walking the tree
    # ------------------------------------------------------------------------------------------

    def named_modules(self, memo=None, prefix: str = ""):
        """``(name, module)`` for this module and every descendant, each module once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        for _, c in self.named_children():
            yield c

    def _named_members(self, store: str, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """``(name, parameter)`` in registration order; a parameter shared by two modules (tied
        weights) is listed once, under its first name."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> "Module":
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules:
                raise AttributeError(
                    f"get_submodule: {type(module).__name__} has no submodule {part!r} (in {target!r})"
                )
            module = module._modules[part]
        return module

    def apply(self, fn) -> "Module":
        """Call ``fn(module)`` on every child (recursively), then on self; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------------------------------
    # modes, devices, gradients
    # ------------------------------------------------------------------------------------------

    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active); ``train(False)`` is ``eval()``. Returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(): mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = p.grad * 0
                    # (a new array: grads are never shared, so nothing else sees the old one)

    def to(self, *args, **kwargs) -> "Module":
        """``to(device)``, ``to(dtype)`` or both: move/convert every parameter and buffer in place
        (the same Parameter objects, so an optimizer built before still holds them). Only float
        tensors change dtype. Returns self."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"to(): unexpected keyword argument(s) {sorted(kwargs)}")
        for a in args:
            if isinstance(a, (str, backend.Device)):
                device = a
            else:
                dtype = a
        dev = None if device is None else backend.device(device)
        dt = None if dtype is None else backend.canonical_dtype(dtype)
        if dt is not None and dt.kind != "f":
            raise TypeError(f"Module.to(): only float dtypes are allowed, got {dt}")

        def convert(a):
            if dt is not None and a.dtype.kind == "f" and a.dtype != dt:
                a = a.astype(dt)
            if dev is not None and backend.device_of(a) != dev:
                a = backend.to_device(a, dev)
            return a

        for t in list(self.parameters()) + list(self.buffers()):
            t.data = convert(t.data)
            if t.grad is not None:
                t.grad.data = convert(t.grad.data)
        return self

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self, device=None) -> "Module":
        return self.to("cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))

    def float(self) -> "Module":
        return self.to(backend.float32)

    def double(self) -> "Module":
        return self.to(backend.float64)

    # ------------------------------------------------------------------------------------------
    # state dict
    # ------------------------------------------------------------------------------------------

    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Every parameter and persistent buffer by name, as detached tensors sharing the data
        (``keep_vars=True``: the Parameters themselves). Tied weights appear under every name,
        as in PyTorch."""
        out = OrderedDict()
        for mod_prefix, module in self.named_modules(prefix=prefix):
            items = list(module._parameters.items()) + [
                (k, v) for k, v in module._buffers.items() if k not in module._non_persistent
            ]
            for name, t in items:
                if t is not None:
                    key = f"{mod_prefix}.{name}" if mod_prefix else name
                    out[key] = t if keep_vars else Tensor._wrap(t.data)
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state_dict`` (name -> minilm Tensor, NumPy or CuPy array) into this
        module's parameters and buffers, converting to each one's dtype and device.

        Every problem is collected before anything changes: with ``strict=True`` missing or
        unexpected keys are an error; a shape mismatch is always one. On error the module is left
        exactly as it was. Returns ``(missing_keys, unexpected_keys)``."""
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict and missing:
            problems.append("Missing key(s): " + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            problems.append("Unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
        updates = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            array = _as_array(key, value, problems)
            if array is None:
                continue
            if tuple(array.shape) != tuple(target.shape):
                problems.append(
                    f"size mismatch for {key!r}: the checkpoint has shape {tuple(array.shape)}, "
                    f"this model has shape {tuple(target.shape)}"
                )
                continue
            updates.append((target, array))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  " + "\n  ".join(problems))
        for target, array in updates:  # a private copy, in the parameter's dtype and on its device
            target.data = backend.to_device(array, backend.device_of(target.data)).astype(target.data.dtype, copy=True)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------------------------------
    # printing
    # ------------------------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The part inside the parentheses of this module's repr (its settings)."""
        return ""

    def __repr__(self):
        lines = []
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {child_repr}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(([extra] if extra else []) + lines)
        return f"{type(self).__name__}(\n  {body}\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))


def _as_array(key, value, problems):
    """The array inside a state-dict value (minilm Tensor, NumPy or CuPy array), or None after
    recording why it cannot be used."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray) or backend.is_cuda_array(value):
        if value.dtype.kind not in "fiub":
            problems.append(f"value for {key!r} has unsupported dtype {value.dtype}")
            return None
        return value
    problems.append(f"value for {key!r} must be a Tensor or an array, got {type(value).__name__}")
    return None
