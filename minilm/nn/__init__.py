"""``minilm.nn``: modules (layers with parameters), their functional forms and initialisers, with
PyTorch's names, signatures, defaults and parameter shapes."""

from minilm.nn import functional, init, utils
from minilm.nn.containers import ModuleDict, ModuleList, Sequential
from minilm.nn.layers import GELU, Dropout, Embedding, Identity, LayerNorm, Linear, ReLU, Sigmoid, Softmax, Tanh
from minilm.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from minilm.nn.module import Module
from minilm.nn.parameter import Parameter
from minilm.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from minilm.nn.attention import MultiheadAttention
from minilm.nn.transformer import TransformerEncoder, TransformerEncoderLayer
from minilm.nn.positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding

__all__ = [
    "MultiheadAttention",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "LearnedPositionalEmbedding",
    "SinusoidalPositionalEncoding",
    "RNNCell",
    "RNN",
    "LSTMCell",
    "LSTM",
    "GRUCell",
    "GRU",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "GELU",
    "Identity",
    "LayerNorm",
    "Linear",
    "MSELoss",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
    "init",
    "utils",
]
