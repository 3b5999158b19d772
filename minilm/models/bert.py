r"""BERT: a Transformer encoder pretrained by filling in masked words, then fine-tuned.

BERT (Devlin, Chang, Lee and Toutanova 2019, "BERT: pre-training of deep bidirectional
transformers for language understanding") reads a whole text at once, every token attending to
every other one, and gives each token a vector that depends on its context on both sides::

    input_ids, token_type_ids (N, L)
      -> BertEmbeddings   x = LayerNorm(E_word[id] + E_pos[position] + E_type[segment]); dropout  (N, L, H)
      -> encoder          num_hidden_layers post-norm Transformer layers, each
                            x = LayerNorm(x + Dropout(SelfAttention(x)))
                            x = LayerNorm(x + Dropout(W2 act(W1 x + b1) + b2))
                          = last_hidden_state                                                  (N, L, H)
      -> pooler           tanh(W h_[CLS] + b), the first token's vector  = pooler_output          (N, H)

``token_type_ids`` (the *segment*: 0 for sentence A, 1 for sentence B) lets the model tell the
two sentences of a pair apart; the positions are learned vectors, one per position up to
``max_position_embeddings``. The encoder is ``minilm.nn.TransformerEncoder`` with PyTorch's
post-norm ``TransformerEncoderLayer``, which is BERT's layer exactly (see "Dropout" below).

**Pretraining** (``BertForPreTraining``) has two heads on top:

* masked language modelling (MLM): about 15% of the tokens are hidden (``minilm.data.masking``)
  and the model predicts the original token at each of them::

      t = LayerNorm(act(W_t h + b_t))           the "transform" (H -> H)
      logits = t E_word^T + b                   the decoder (H -> V), its weight TIED to E_word

  Tying means the decoder's weight *is* the word-embedding Parameter: one table of V word
  vectors serves as input (a row looked up per token) and as output (a dot product with every
  row). Autograd adds the gradients of both uses into that one Parameter.

* next sentence prediction (NSP): ``Linear(H, 2)`` on ``pooler_output`` says whether sentence B
  followed sentence A in the text (label 0, "IsNext") or was drawn from elsewhere (label 1,
  "NotNext"), Hugging Face's convention.

``loss = mlm_loss + nsp_loss``, each a mean cross-entropy (``F.cross_entropy``).

**Why MLM logits only at the masked positions.** The decoder costs ``N L H V`` multiply-adds
(and the softmax another ``N L V``): with V = 30522 it is by far the largest matrix product of a
small BERT. But the loss only looks at the labelled positions (``labels != -100``), about 15% of
them. So, given labels, ``BertForPreTraining`` first gathers the hidden vectors at those positions,
``h.reshape(N * L, H)[positions]`` (M, H), and runs the transform and decoder on those M rows only:
the same loss at about 15% of the cost (the gradient flows back through the gather, a scatter-add,
to exactly those rows). ``mlm_positions`` says where each of the M rows came from.

**Fine-tuning** (``BertForSequenceClassification``): ``Linear(H, num_labels)`` on the dropped-out
``pooler_output``, trained with cross-entropy on a labelled task (with ``num_labels=1``, a
regression trained with the mean squared error, as Hugging Face does).

**Padding.** Sequences of different lengths are padded to one length L; ``attention_mask`` (Hugging
Face's convention: 1 = real token, 0 = padding) becomes the encoder's ``src_key_padding_mask``
(True = padding), so that no token attends to a padding position. A real token's output then does
not depend on how much padding follows it (a test checks this). The padding positions get outputs
too (they attend to the real tokens); those are meaningless and nothing should read them.

**Dropout**, as in Hugging Face's BERT: ``attention_probs_dropout_prob`` on the attention
probabilities, ``hidden_dropout_prob`` after the embeddings and on each sublayer's output before
the residual sum. PyTorch's ``TransformerEncoderLayer`` has one more dropout, between the
activation and ``linear2``, which BERT does not have: it is set to 0 here. All are off in
``eval()``.

**Initialisation** (BERT's): every Linear and Embedding weight (and the attention's
``in_proj_weight``) N(0, initializer_range^2), biases 0, LayerNorm weight 1 and bias 0, and the
padding token's embedding row 0.

- ``BertConfig`` (a dataclass with Hugging Face's field names; ``to_dict``/``from_dict``,
  ``save``/``load`` as JSON);
- ``BertEmbeddings``, ``BertPooler``, ``BertModel(config, add_pooling_layer=True)``;
- ``BertForPreTraining(config)``, ``BertForSequenceClassification(config, num_labels=2)``;
- outputs: ``BertModelOutput``, ``BertPreTrainingOutput``, ``SequenceClassifierOutput``;
- loading and saving Hugging Face checkpoints: ``minilm.models.hf_bert``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minilm
from minilm import backend
from minilm.models.config import JSONConfig
from minilm.nn import functional as F
from minilm.nn import init
from minilm.nn.attention import MultiheadAttention
from minilm.nn.layers import Dropout, Embedding, LayerNorm, Linear
from minilm.nn.module import Module
from minilm.nn.parameter import Parameter
from minilm.nn.transformer import TransformerEncoder, TransformerEncoderLayer
from minilm.ops import elementwise
from minilm.tensor import Tensor

__all__ = [
    "ACTIVATIONS",
    "BertConfig",
    "BertEmbeddings",
    "BertForPreTraining",
    "BertForSequenceClassification",
    "BertLMPredictionHead",
    "BertModel",
    "BertModelOutput",
    "BertPooler",
    "BertPreTrainingHeads",
    "BertPreTrainingOutput",
    "BertPredictionHeadTransform",
    "SequenceClassifierOutput",
    "TiedDecoder",
    "gather_positions",
    "init_bert_weights",
    "labelled_positions",
    "padding_mask",
]

#: The values of ``hidden_act`` this BERT understands. Hugging Face's "gelu" is the exact
#: ``x * Phi(x)`` with the normal CDF written with erf, which is ``minilm.nn.functional.gelu``'s default.
ACTIVATIONS = ("gelu", "relu")

IGNORE_INDEX = -100


# ---------------------------------------------------------------------------------------------
# the configuration
# ---------------------------------------------------------------------------------------------


@dataclass
class BertConfig(JSONConfig):
    """The sizes and settings of a BERT, with Hugging Face's names and defaults (bert-base-uncased).

    ``hidden_size`` H must be divisible by ``num_attention_heads`` (each head works on
    H / num_attention_heads dimensions). ``intermediate_size`` is the width of each layer's
    feed-forward block (4 H in the paper). ``type_vocab_size`` is the number of segments (2: A, B).
    ``initializer_range`` is the standard deviation of the initial weights.

    ``to_dict()`` / ``from_dict(d)`` convert to and from a plain dict (an unknown key is a
    ``ValueError`` naming it); ``save(path)`` / ``load(path)`` write and read that dict as JSON
    (atomically). A value out of range is a ``ValueError`` when the config is made.
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise a ``ValueError`` naming the first field whose value a BERT cannot have."""
        for name in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"BertConfig: {name} must be an integer >= 1, got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"BertConfig: hidden_size {self.hidden_size} is not divisible by num_attention_heads "
                f"{self.num_attention_heads}; each head gets hidden_size / num_attention_heads dimensions"
            )
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(
                f"BertConfig: hidden_act {self.hidden_act!r} is not supported; use one of {ACTIVATIONS} "
                "('gelu' is the exact erf GELU of the original BERT)"
            )
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"BertConfig: {name} must be a probability in [0, 1), got {value!r}")
        for name in ("initializer_range", "layer_norm_eps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"BertConfig: {name} must be a number > 0, got {value!r}")
        pad = self.pad_token_id
        if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or not 0 <= pad < self.vocab_size:
            raise ValueError(
                f"BertConfig: pad_token_id must be an id in 0..{self.vocab_size - 1} (vocab_size {self.vocab_size}), "
                f"got {pad!r}"
            )


# ---------------------------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------------------------


@dataclass
class BertModelOutput:
    """``last_hidden_state`` (N, L, H): every token's vector after the last layer;
    ``pooler_output`` (N, H): ``tanh(W h_[CLS] + b)``, or None without a pooler."""

    last_hidden_state: Tensor
    pooler_output: Tensor | None = None


@dataclass
class BertPreTrainingOutput:
    """What ``BertForPreTraining`` returns (see its docstring): ``loss = mlm_loss + nsp_loss`` (each
    None when its labels were not given); ``mlm_logits`` (M, V) at the labelled positions with
    ``mlm_positions`` (M,) their flat indices into N * L, or (N, L, V) and None without labels;
    ``nsp_logits`` (N, 2)."""

    loss: Tensor | None = None
    mlm_loss: Tensor | None = None
    nsp_loss: Tensor | None = None
    mlm_logits: Tensor | None = None
    mlm_positions: Tensor | None = None
    nsp_logits: Tensor | None = None


@dataclass
class SequenceClassifierOutput:
    """``logits`` (N, num_labels) and, when labels were given, the mean ``loss``."""

    loss: Tensor | None = None
    logits: Tensor | None = None


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------


def _device_of(module: Module) -> backend.Device:
    return next(iter(module.parameters())).device


def _int_tensor(name: str, value, device, shape=None) -> Tensor:
    """``value`` (a Tensor, array or nested list of integers) as an int64 Tensor on ``device``; with
    ``shape``, a ``ValueError`` unless it has that shape."""
    data = value.data if isinstance(value, Tensor) else value
    if not (isinstance(data, np.ndarray) or backend.is_cuda_array(data)):
        data = np.asarray(data)
    if data.dtype.kind not in "iub":
        raise TypeError(f"BERT: {name} must hold integers, got dtype {data.dtype}")
    if shape is not None and tuple(data.shape) != tuple(shape):
        raise ValueError(f"BERT: {name} has shape {tuple(data.shape)}, but input_ids has shape {tuple(shape)}")
    if isinstance(value, Tensor) and value.device == device and data.dtype == np.int64:
        return value
    return minilm.tensor(backend.to_device(data, device).astype(np.int64, copy=False), device=device)


def _input_ids(input_ids, device) -> Tensor:
    ids = _int_tensor("input_ids", input_ids, device)
    if ids.ndim != 2:
        hint = " (one sequence: ids[None], or [ids])" if ids.ndim == 1 else ""
        raise ValueError(f"BERT: input_ids must be (N, L) token ids, batch first; got shape {ids.shape}{hint}")
    return ids


def padding_mask(attention_mask, shape, device) -> Tensor | None:
    """Hugging Face's ``attention_mask`` (N, L), 1 = real token and 0 = padding, as the encoder's
    ``src_key_padding_mask``: a bool (N, L) Tensor, True = padding (PyTorch's convention for
    ``key_padding_mask``: True means "ignore this key"). None stays None (nothing is padding).
    Integers, bools or floats (1.0 / 0.0) are all accepted."""
    if attention_mask is None:
        return None
    m = attention_mask.data if isinstance(attention_mask, Tensor) else attention_mask
    if not (isinstance(m, np.ndarray) or backend.is_cuda_array(m)):
        m = np.asarray(m)
    if m.dtype.kind not in "iubf":
        raise TypeError(f"BERT: attention_mask must hold 1 and 0, got dtype {m.dtype}")
    if tuple(m.shape) != tuple(shape):
        raise ValueError(f"BERT: attention_mask has shape {tuple(m.shape)}, but input_ids has shape {tuple(shape)}")
    m = backend.to_device(m, device)
    if not bool(((m == 0) | (m == 1)).all()):
        raise ValueError("BERT: attention_mask must hold 1 for real tokens and 0 for padding, and nothing else")
    return Tensor._wrap(m == 0)


def labelled_positions(labels: Tensor) -> Tensor:
    """The flat indices ``n * L + l`` of the labelled positions (``labels != -100``) of an (N, L) label
    tensor, in order: an int64 (M,) Tensor."""
    xp = backend.xp_of(labels.data)
    return Tensor._wrap(xp.flatnonzero(labels.data.reshape(-1) != IGNORE_INDEX).astype(np.int64))


def gather_positions(hidden: Tensor, positions: Tensor) -> Tensor:
    """The rows of ``hidden`` (N, L, H) at the flat ``positions`` (M,): ``hidden.reshape(N * L, H)[positions]``,
    (M, H). Backward puts each row's gradient back where it came from (a scatter-add) and zeros elsewhere."""
    N, L, H = hidden.shape
    return hidden.reshape(N * L, H)[positions]


# ---------------------------------------------------------------------------------------------
# the encoder
# ---------------------------------------------------------------------------------------------


class BertEmbeddings(Module):
    """``LayerNorm(word_embeddings[ids] + position_embeddings[positions] + token_type_embeddings[segments])``,
    then dropout: (N, L) ids -> (N, L, H).

    ``forward(input_ids, token_type_ids=None, position_ids=None)``: ``token_type_ids`` default to 0
    (one segment), ``position_ids`` to ``0 .. L-1``. The word embedding's row ``pad_token_id`` gets
    no gradient from the lookup (``padding_idx``)."""

    def __init__(self, config: BertConfig, device=None, dtype=None):
        super().__init__()
        H = config.hidden_size
        self.word_embeddings = Embedding(
            config.vocab_size, H, padding_idx=config.pad_token_id, device=device, dtype=dtype
        )
        self.position_embeddings = Embedding(config.max_position_embeddings, H, device=device, dtype=dtype)
        self.token_type_embeddings = Embedding(config.type_vocab_size, H, device=device, dtype=dtype)
        self.LayerNorm = LayerNorm(H, eps=config.layer_norm_eps, device=device, dtype=dtype)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids=None, position_ids=None) -> Tensor:
        device = self.word_embeddings.weight.device
        ids = _input_ids(input_ids, device)
        N, L = ids.shape
        P = self.position_embeddings.num_embeddings
        if position_ids is None:
            if L > P:
                raise ValueError(
                    f"BERT: the sequences are {L} tokens long, but the model has position embeddings for "
                    f"{P} positions (max_position_embeddings); truncate the input to at most {P} tokens"
                )
            position_ids = minilm.arange(L, device=device)
        else:
            position_ids = _int_tensor("position_ids", position_ids, device)
        if token_type_ids is None:
            token_type_ids = minilm.zeros(N, L, dtype=minilm.int64, device=device)
        else:
            token_type_ids = _int_tensor("token_type_ids", token_type_ids, device, ids.shape)
        x = self.word_embeddings(ids) + self.position_embeddings(position_ids)
        x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class BertPooler(Module):
    """``tanh(dense(h[:, 0]))``: the [CLS] token's vector through one more layer, a summary of the
    whole sequence for NSP and classification. (N, L, H) -> (N, H)."""

    def __init__(self, config: BertConfig, device=None, dtype=None):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size, device=device, dtype=dtype)

    def forward(self, hidden_states: Tensor) -> Tensor:
        return elementwise.tanh(self.dense(hidden_states[:, 0]))


def bert_encoder_layer(config: BertConfig, device=None, dtype=None) -> TransformerEncoderLayer:
    """One BERT layer: PyTorch's post-norm ``TransformerEncoderLayer`` (batch first) with the
    attention probabilities dropped out at ``attention_probs_dropout_prob`` and no dropout between
    the activation and ``linear2`` (BERT has none there)."""
    layer = TransformerEncoderLayer(
        config.hidden_size,
        config.num_attention_heads,
        dim_feedforward=config.intermediate_size,
        dropout=config.hidden_dropout_prob,
        activation=config.hidden_act,
        layer_norm_eps=config.layer_norm_eps,
        batch_first=True,
        norm_first=False,
        device=device,
        dtype=dtype,
    )
    layer.self_attn.dropout = config.attention_probs_dropout_prob
    layer.dropout = Dropout(0.0)
    return layer


class BertModel(Module):
    """The BERT encoder: embeddings, ``num_hidden_layers`` Transformer layers and (optionally) the pooler.

    ``forward(input_ids, attention_mask=None, token_type_ids=None, position_ids=None) -> BertModelOutput``:
    ``input_ids`` (N, L) token ids; ``attention_mask`` (N, L) 1 = real token, 0 = padding (Hugging
    Face's convention); ``token_type_ids`` (N, L) segment ids (default 0). Each may be a Tensor, a
    NumPy array or a list. Returns ``last_hidden_state`` (N, L, H) and ``pooler_output`` (N, H), or
    None when ``add_pooling_layer=False``. ``device`` and ``dtype`` as for every minilm module.
    """

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True, device=None, dtype=None):
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(f"BertModel: config must be a BertConfig, got {type(config).__name__}")
        config.validate()
        self.config = config
        self.embeddings = BertEmbeddings(config, device, dtype)
        layer = bert_encoder_layer(config, device, dtype)
        self.encoder = TransformerEncoder(layer, config.num_hidden_layers, enable_nested_tensor=False)
        self.add_module("pooler", BertPooler(config, device, dtype) if add_pooling_layer else None)
        init_bert_weights(self, config)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None) -> BertModelOutput:
        device = _device_of(self)
        ids = _input_ids(input_ids, device)
        key_padding_mask = padding_mask(attention_mask, ids.shape, device)
        x = self.embeddings(ids, token_type_ids, position_ids)
        h = self.encoder(x, src_key_padding_mask=key_padding_mask)
        pooled = self.pooler(h) if self.pooler is not None else None
        return BertModelOutput(h, pooled)


def init_bert_weights(module: Module, config: BertConfig) -> None:
    """BERT's initialisation of ``module`` and everything in it: Linear and Embedding weights and
    attention ``in_proj_weight`` N(0, initializer_range^2), their biases 0, LayerNorm 1 and 0, and
    the padding row of an Embedding with ``padding_idx`` 0."""
    std = config.initializer_range
    for m in module.modules():
        if isinstance(m, Linear):
            init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, Embedding):
            init.normal_(m.weight, 0.0, std)
            if m.padding_idx is not None:
                w = m.weight.data.copy()
                w[m.padding_idx] = 0
                m.weight.data = w
        elif isinstance(m, LayerNorm):
            m.reset_parameters()
        elif isinstance(m, MultiheadAttention):
            init.normal_(m.in_proj_weight, 0.0, std)
            if m.in_proj_bias is not None:
                init.zeros_(m.in_proj_bias)


# ---------------------------------------------------------------------------------------------
# pretraining heads
# ---------------------------------------------------------------------------------------------


class BertPredictionHeadTransform(Module):
    """``LayerNorm(act(dense(h)))``, H -> H: the first half of the MLM head."""

    def __init__(self, config: BertConfig, device=None, dtype=None):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size, device=device, dtype=dtype)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps, device=device, dtype=dtype)
        self.hidden_act = config.hidden_act

    def forward(self, hidden_states: Tensor) -> Tensor:
        x = self.dense(hidden_states)
        x = F.gelu(x) if self.hidden_act == "gelu" else F.relu(x)
        return self.LayerNorm(x)


class TiedDecoder(Module):
    """``h W^T`` where ``W`` IS a given Parameter (the word-embedding table, (V, H)): a Linear without
    bias that owns no weight of its own. It is listed in ``state_dict`` under its own name too (as
    PyTorch lists tied weights), but ``parameters()`` yields the table once."""

    def __init__(self, weight: Parameter):
        super().__init__()
        self.weight = weight

    def forward(self, hidden_states: Tensor) -> Tensor:
        return F.linear(hidden_states, self.weight)


class BertLMPredictionHead(Module):
    """The MLM head: ``decoder(transform(h)) + bias``, (..., H) -> (..., V), with ``decoder.weight``
    the word-embedding Parameter itself and ``bias`` (V,) its own."""

    def __init__(self, config: BertConfig, word_embeddings: Parameter, device=None, dtype=None):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config, device, dtype)
        self.decoder = TiedDecoder(word_embeddings)
        self.bias = Parameter(minilm.zeros(config.vocab_size, device=device, dtype=dtype))

    def forward(self, hidden_states: Tensor) -> Tensor:
        return F.linear(self.transform(hidden_states), self.decoder.weight, self.bias)


class BertPreTrainingHeads(Module):
    """``predictions`` (the MLM head) and ``seq_relationship`` (the NSP head, ``Linear(H, 2)``)."""

    def __init__(self, config: BertConfig, word_embeddings: Parameter, device=None, dtype=None):
        super().__init__()
        self.predictions = BertLMPredictionHead(config, word_embeddings, device, dtype)
        self.seq_relationship = Linear(config.hidden_size, 2, device=device, dtype=dtype)


class BertForPreTraining(Module):
    """BERT with its two pretraining heads: masked language modelling and next sentence prediction.

    ``forward(input_ids, attention_mask=None, token_type_ids=None, labels=None, next_sentence_label=None)
    -> BertPreTrainingOutput``:

    * ``labels`` (N, L): the original token id at each masked position, -100 everywhere else. Given
      labels, the MLM logits are computed ONLY at the M labelled positions: ``mlm_logits`` (M, V),
      ``mlm_positions`` (M,) their flat indices into N * L (row ``n * L + l``), and ``mlm_loss`` their
      mean cross-entropy (0, with zero gradient, when no position is labelled: M = 0). Without labels:
      ``mlm_logits`` (N, L, V) for every position and ``mlm_positions`` None.
    * ``next_sentence_label`` (N,): 0 = sentence B follows A, 1 = B is random. ``nsp_logits`` (N, 2)
      always; ``nsp_loss`` their mean cross-entropy when the labels are given.
    * ``loss = mlm_loss + nsp_loss``, or the one that was computed, or None.

    ``cls.predictions.decoder.weight`` is ``bert.embeddings.word_embeddings.weight`` (one Parameter).
    """

    def __init__(self, config: BertConfig, device=None, dtype=None):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=True, device=device, dtype=dtype)
        self.cls = BertPreTrainingHeads(config, self.bert.embeddings.word_embeddings.weight, device, dtype)
        init_bert_weights(self.cls, config)

    def forward(
        self, input_ids, attention_mask=None, token_type_ids=None, labels=None, next_sentence_label=None
    ) -> BertPreTrainingOutput:
        device = _device_of(self)
        ids = _input_ids(input_ids, device)
        out = self.bert(ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        h = out.last_hidden_state
        mlm_loss = nsp_loss = positions = None
        if labels is not None:
            labels = _int_tensor("labels", labels, device, ids.shape)
            positions = labelled_positions(labels)
            mlm_logits = self.cls.predictions(gather_positions(h, positions))  # (M, V)
            targets = Tensor._wrap(labels.data.reshape(-1)[positions.data])
            mlm_loss = F.cross_entropy(mlm_logits, targets)
        else:
            mlm_logits = self.cls.predictions(h)  # (N, L, V)
        nsp_logits = self.cls.seq_relationship(out.pooler_output)
        if next_sentence_label is not None:
            nsp_targets = _int_tensor("next_sentence_label", next_sentence_label, device, (ids.shape[0],))
            nsp_loss = F.cross_entropy(nsp_logits, nsp_targets)
        losses = [x for x in (mlm_loss, nsp_loss) if x is not None]
        loss = None if not losses else losses[0] if len(losses) == 1 else losses[0] + losses[1]
        return BertPreTrainingOutput(loss, mlm_loss, nsp_loss, mlm_logits, positions, nsp_logits)


class BertForSequenceClassification(Module):
    """BERT with a classifier on the pooled [CLS] vector: ``classifier(dropout(pooler_output))``.

    ``forward(input_ids, attention_mask=None, token_type_ids=None, labels=None) -> SequenceClassifierOutput``:
    ``logits`` (N, num_labels); with ``labels`` (N,) class ids, ``loss`` is their mean cross-entropy.
    With ``num_labels=1`` the model is a regressor: ``labels`` (N,) floats and the mean squared error.
    """

    def __init__(self, config: BertConfig, num_labels: int = 2, device=None, dtype=None):
        super().__init__()
        if isinstance(num_labels, bool) or not isinstance(num_labels, (int, np.integer)) or num_labels < 1:
            raise ValueError(f"BertForSequenceClassification: num_labels must be an integer >= 1, got {num_labels!r}")
        self.config = config
        self.num_labels = int(num_labels)
        self.bert = BertModel(config, add_pooling_layer=True, device=device, dtype=dtype)
        self.dropout = Dropout(config.hidden_dropout_prob)
        self.classifier = Linear(config.hidden_size, self.num_labels, device=device, dtype=dtype)
        init_bert_weights(self.classifier, config)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None) -> SequenceClassifierOutput:
        device = _device_of(self)
        ids = _input_ids(input_ids, device)
        out = self.bert(ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        logits = self.classifier(self.dropout(out.pooler_output))
        loss = None
        if labels is not None:
            if self.num_labels == 1:
                data = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
                target = minilm.tensor(backend.to_device(data, device), dtype=logits.dtype, device=device)
                loss = F.mse_loss(logits.reshape(-1), target.reshape(-1))
            else:
                loss = F.cross_entropy(logits, _int_tensor("labels", labels, device, (ids.shape[0],)))
        return SequenceClassifierOutput(loss, logits)

    def extra_repr(self) -> str:
        return f"num_labels={self.num_labels}"
