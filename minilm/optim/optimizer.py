"""The ``Optimizer`` base class: what every optimizer shares, whatever its update rule.

An optimizer holds

``param_groups``  a list of dicts, each ``{'params': [tensors...], 'lr': ..., <other options>}``.
                  Options left out of a group take the optimizer's defaults, so one optimizer can
                  train, say, the embeddings with one learning rate and the rest with another.
``state``         a dict from parameter (the Tensor itself) to that parameter's own dict of
                  running quantities: a momentum buffer, Adam's moment estimates, a step count.

and ``step()`` walks over the parameters that have a gradient and calls ``_update`` for each, which
is the one method a subclass writes. The update works on raw arrays (``p.data``, ``p.grad.data``)
with plain array arithmetic, so the same code runs on NumPy and on CuPy, and no graph is recorded.

Two rules about memory, which keep an update from surprising anyone:

* the optimizer's own state arrays are private, so they are updated in place (``buf *= momentum``);
* a parameter gets a NEW array (``p.data = new``), never a write into its old one, as
  ``Tensor.__isub__`` does: an array that a graph saved for backward, or that a ``detach()``ed
  copy shares, keeps its values. The tensor object stays the same, so a model sees the update.

``state_dict()`` describes all of this as plain data with parameters replaced by their position
(0, 1, 2... across the groups, in order), as PyTorch does, so a checkpoint can be written with
``minilm.save`` and loaded into a fresh optimizer built over the same parameters.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from minilm import backend
from minilm.autograd import enable_grad
from minilm.tensor import Tensor

#: State entries that are counters (plain numbers), not arrays shaped like the parameter.
COUNTER_KEYS = ("step",)


class Optimizer:
    """Base class of the optimizers: ``Optimizer(params, defaults)``.

    ``params`` is an iterable of tensors (leaves with ``requires_grad=True``, such as
    ``model.parameters()``) or of dicts, each a parameter group ``{'params': [...], 'lr': ...}``
    whose options override ``defaults``. Subclasses check their options in
    ``_check_hyperparameters`` and write the update rule in ``_update``.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: defaultdict = defaultdict(dict)
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Tensors or of dicts, got a single "
                "Tensor; wrap it in a list: [t]"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list; pass model.parameters()")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -----------------------------------------------------------------------------------------
    # parameter groups
    # -----------------------------------------------------------------------------------------

    def add_param_group(self, param_group: dict) -> None:
        """Add a group ``{'params': [...], <options>}``; options it leaves out take the defaults.

        Useful to start training layers that were frozen: ``opt.add_param_group({'params':
        layer.parameters(), 'lr': 1e-4})``."""
        name = type(self).__name__
        index = len(self.param_groups)
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: parameter group {index} has no 'params' entry")
        group = dict(param_group)
        group["params"] = _param_list(group["params"], f"{name}: parameter group {index}")
        if not group["params"]:
            raise ValueError(f"{name}: parameter group {index} has no parameters")
        for i, p in enumerate(group["params"]):
            _check_param(p, f"{name}: parameter {i} of group {index}")
        _check_no_duplicates(group["params"], self.param_groups, f"{name}: parameter group {index}")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_hyperparameters(group, f"{name} (parameter group {index})")
        self.param_groups.append(group)

    def _check_hyperparameters(self, group: dict, where: str) -> None:
        """Raise ValueError if an option of ``group`` is out of range (subclasses override)."""

    # -----------------------------------------------------------------------------------------
    # gradients and the update
    # -----------------------------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients before the next backward (which would otherwise ADD to them).

        ``set_to_none=True`` (the default) sets ``p.grad = None``, which frees the memory and lets
        ``step`` skip parameters that get no gradient; ``False`` fills them with zeros instead."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def step(self, closure=None):
        """Update every parameter that has a gradient (those with ``grad is None`` are skipped).

        ``closure``, if given, is a function that recomputes the loss (zero_grad, forward,
        backward) and returns it; it is called first, with gradients on, and its loss returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                _check_grad(p)
                self._update(p, p.grad.data, self.state[p], group)
        return loss

    def _update(self, p: Tensor, grad, state: dict, group: dict) -> None:
        """Update one parameter ``p`` from its gradient array ``grad``, its ``state`` dict (empty
        on the first step) and its group's options. The update rule of each optimizer."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update")

    # -----------------------------------------------------------------------------------------
    # checkpoints
    # -----------------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """The optimizer as plain data: ``{'state': {0: {...}, ...}, 'param_groups': [{..., 'params':
        [0, 1]}, ...]}``, parameters replaced by their position across the groups.

        The state tensors are copies (a snapshot): later steps do not change a state dict already
        taken."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):
                    state[index[id(p)]] = {k: _snapshot(p, v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict()`` returned (for an optimizer over the same parameters, in
        the same groups and order). State arrays may be minilm Tensors or NumPy/CuPy arrays; they
        are copied to each parameter's device and dtype. Everything is checked before anything
        changes, so a failed load leaves the optimizer as it was."""
        name = type(self).__name__
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise ValueError(f"{name}.load_state_dict: the state dict has no '{key}' entry")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter group(s), "
                f"but this optimizer has {len(self.param_groups)}"
            )
        by_index = {}  # saved index -> (parameter, group number, position in group)
        for g, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {g} has {len(saved['params'])} parameter(s) "
                    f"in the state dict, but {len(group['params'])} in this optimizer"
                )
            for i, (k, p) in enumerate(zip(saved["params"], group["params"])):
                by_index[int(k)] = (p, g, i)
        state = defaultdict(dict)
        for k, saved_state in state_dict["state"].items():
            if int(k) not in by_index:
                raise ValueError(
                    f"{name}.load_state_dict: the state dict has state for parameter {k}, but its groups "
                    f"list only parameters {sorted(by_index)}"
                )
            p, g, i = by_index[int(k)]
            state[p] = {
                key: _restore(
                    value,
                    p,
                    f"{name}.load_state_dict: state '{key}' of parameter {k} (group {g}, position {i})",
                    key in COUNTER_KEYS,
                )
                for key, value in saved_state.items()
            }
        groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            new = {k: _plain(v, group.get(k)) for k, v in saved.items() if k != "params"}
            new["params"] = group["params"]
            groups.append(new)
        self.state = state
        self.param_groups = groups

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])


# ---------------------------------------------------------------------------------------------
# helpers shared by the optimizers
# ---------------------------------------------------------------------------------------------


def regularized_gradient(param, grad, weight_decay: float, maximize: bool):
    """The gradient the update follows: ``grad`` (negated when maximizing), plus
    ``weight_decay * param``, the gradient of the L2 penalty ``weight_decay/2 * ||param||^2``.

    Returns ``grad`` itself when there is nothing to add: the caller must not write into it."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    return grad


def apply_update(p: Tensor, update, scale: float = 1.0) -> None:
    """``p <- scale * p + update``, written into ``update``'s memory (the caller hands it over)
    and made ``p``'s new array; ``p``'s old array is left untouched (see the module docstring)."""
    if scale == 1.0:
        update += p.data
    else:
        update += p.data * scale
    p.data = as_array(update)


def as_array(x):
    """``x`` itself, or a 0-d array if ``x`` is a NumPy scalar: NumPy returns the result of an
    operation on 0-d arrays as a scalar, which has no memory to update in place."""
    return np.asarray(x) if isinstance(x, np.generic) else x


def zeros_state(p: Tensor) -> Tensor:
    """A zero Tensor shaped like ``p``, on its device and of its dtype: a fresh state buffer."""
    with backend.on_device(p.device):
        return Tensor._wrap(backend.xp_of(p.data).zeros_like(p.data))


def copy_state(p: Tensor, array) -> Tensor:
    """A state Tensor holding a copy of ``array`` (on ``p``'s device)."""
    with backend.on_device(p.device):
        return Tensor._wrap(backend.xp_of(array).array(array, copy=True))


def _param_list(params, where: str) -> list:
    """The parameters of a group as a list: one Tensor, or an iterable (not a set: its order would
    change from run to run, and a checkpoint refers to parameters by position)."""
    if isinstance(params, Tensor):
        return [params]
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{where}: parameters must be an ordered collection (a list), not a set")
    if isinstance(params, dict):
        raise TypeError(f"{where}: 'params' must be an iterable of Tensors, got a dict")
    return list(params)


def _check_param(p, where: str) -> None:
    """A parameter must be a leaf Tensor that requires grad."""
    if not isinstance(p, Tensor):
        raise TypeError(f"{where} is a {type(p).__name__}, not a Tensor")
    if not p.requires_grad:
        raise ValueError(
            f"{where} (shape {p.shape}) does not require grad, so it would never get a gradient; "
            "create it with requires_grad=True or leave it out"
        )
    if not p.is_leaf:
        raise ValueError(
            f"{where} (shape {p.shape}) is not a leaf: it was computed by an op ({p.grad_fn!r}). "
            "Optimize the tensors it was computed from, or make it a leaf with .detach().requires_grad_()"
        )


def _check_no_duplicates(params: list, groups: list, where: str) -> None:
    """A parameter may appear once in one group only (else it would be updated twice a step)."""
    seen = {}
    for i, p in enumerate(params):
        if id(p) in seen:
            raise ValueError(f"{where}: parameters {seen[id(p)]} and {i} are the same tensor (shape {p.shape})")
        seen[id(p)] = i
    for g, group in enumerate(groups):
        for j, q in enumerate(group["params"]):
            if id(q) in seen:
                raise ValueError(
                    f"{where}: parameter {seen[id(q)]} (shape {q.shape}) is already parameter {j} of group {g}; "
                    "a parameter can belong to one group only"
                )


def _check_grad(p: Tensor) -> None:
    """The gradient must match its parameter in shape, dtype and device (else the update would
    broadcast, promote or fail deep inside the array library)."""
    g = p.grad.data
    if g.shape != p.data.shape:
        raise ValueError(f"optimizer step: a parameter of shape {p.shape} has a gradient of shape {g.shape}")
    if g.dtype != p.data.dtype:
        raise TypeError(
            f"optimizer step: a {p.dtype} parameter (shape {p.shape}) has a {g.dtype} gradient; "
            "they must have the same dtype"
        )
    if type(g) is not type(p.data):
        raise RuntimeError(
            f"optimizer step: a parameter on {p.device} (shape {p.shape}) has a gradient on {backend.device_of(g)}"
        )


def _snapshot(p: Tensor, value):
    """A copy of one state entry of ``p`` for ``state_dict``: Tensors are copied, numbers kept."""
    return copy_state(p, value.data) if isinstance(value, Tensor) else value


def _restore(value, p: Tensor, where: str, counter: bool):
    """One loaded state entry: a counter becomes an int; an array (Tensor, NumPy or CuPy) must
    have ``p``'s shape and becomes a new Tensor on ``p``'s device with ``p``'s dtype."""
    if counter:
        return int(_plain(value))
    if isinstance(value, Tensor):
        value = value.data
    if not (isinstance(value, np.ndarray) or backend.is_cuda_array(value)):
        return value
    if value.shape != p.data.shape:
        raise ValueError(f"{where} has shape {tuple(value.shape)}, but the parameter has shape {p.shape}")
    with backend.on_device(p.device):
        return Tensor._wrap(backend.to_device(value, p.device).astype(p.data.dtype, copy=True))


def _plain(value, like=None):
    """A loaded option as plain Python data: 0-d Tensors/arrays and NumPy scalars become numbers
    (so that they can never promote a float32 array to float64), and a list becomes a tuple
    where the option was one (``betas``)."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.generic) or (
        (isinstance(value, np.ndarray) or backend.is_cuda_array(value)) and value.ndim == 0
    ):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)) or backend.is_cuda_array(value):
        items = [_plain(v) for v in (value.tolist() if hasattr(value, "tolist") else value)]
        return tuple(items) if isinstance(like, tuple) or isinstance(value, tuple) else items
    return value
