"""Optimizers and learning-rate schedules: ``minilm.optim.SGD``, ``Adam``, ``AdamW`` and
``minilm.optim.lr_scheduler``, with the names, arguments and update formulas of ``torch.optim``.

    >>> opt = minilm.optim.AdamW(model.parameters(), lr=1e-3)
    >>> loss.backward(); opt.step(); opt.zero_grad()

Gradient clipping lives where PyTorch keeps it, in ``minilm.nn.utils``.
"""

from minilm.optim import lr_scheduler
from minilm.optim.adam import Adam, AdamW
from minilm.optim.optimizer import Optimizer
from minilm.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
