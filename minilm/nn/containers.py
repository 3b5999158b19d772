"""Containers of modules: ``Sequential`` (a pipeline), ``ModuleList`` and ``ModuleDict`` (so that
modules kept in a list or dict are registered, and their parameters found)."""

from __future__ import annotations

from collections import OrderedDict

from minilm.nn.module import Module


def _check_module(where: str, m) -> None:
    if not isinstance(m, Module):
        raise TypeError(f"{where}: expected a Module, got {type(m).__name__}")


class Sequential(Module):
    """``Sequential(m1, m2, ...)`` or ``Sequential(OrderedDict(name=module))``: calls the modules in
    order, each on the previous one's output."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (dict, OrderedDict)):
            for name, m in args[0].items():
                _check_module("Sequential", m)
                self.add_module(str(name), m)
        else:
            for i, m in enumerate(args):
                _check_module("Sequential", m)
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        return items[_index("Sequential", idx, len(items))][1]

    def append(self, module) -> "Sequential":
        _check_module("Sequential.append", module)
        self.add_module(str(len(self)), module)
        return self


def _index(where: str, idx: int, n: int) -> int:
    if not -n <= idx < n:
        raise IndexError(f"{where}: index {idx} is out of range for {n} module(s)")
    return idx % n


class ModuleList(Module):
    """A list of modules, registered as children named "0", "1", ..."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        values = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(values[idx])
        return values[_index("ModuleList", idx, len(values))]

    def __setitem__(self, idx, module):
        _check_module("ModuleList", module)
        self.add_module(str(_index("ModuleList", idx, len(self))), module)

    def append(self, module) -> "ModuleList":
        _check_module("ModuleList.append", module)
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module) -> None:
        values = list(self._modules.values())
        values.insert(index, module)
        self._modules.clear()
        self.extend(values)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(); iterate over it and call the modules yourself")


class ModuleDict(Module):
    """A dict of modules, registered under their keys."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no key {key!r} (keys: {list(self._modules)})")
        return self._modules[key]

    def __setitem__(self, key, module):
        _check_module("ModuleDict", module)
        self.add_module(str(key), module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules) -> None:
        items = modules.items() if hasattr(modules, "items") else modules
        for key, m in items:
            self[key] = m

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(); pick a module by key and call it")
