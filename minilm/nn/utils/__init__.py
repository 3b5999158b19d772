"""``minilm.nn.utils``: gradient clipping (``clip_grad.py``) and, in ``minilm.nn.utils.rnn``, the
helpers for batches of sequences of different lengths, where PyTorch keeps them."""

from minilm.nn.utils import rnn
from minilm.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_, total_norm, vector_norm

__all__ = ["clip_grad_norm_", "clip_grad_value_", "rnn", "total_norm", "vector_norm"]
