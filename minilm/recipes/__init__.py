"""The recipes behind the ``minilm`` command: pretrain a BERT with masked language modelling (and
next-sentence prediction), fine-tune it for classification, and compare it with the same classifier
trained from scratch. They are plain functions, so a notebook can run them one step at a time::

    docs = pretraining_documents("bundled")                 # documents, each a list of sentences
    tok = train_tokenizer(docs, vocab_size=4000)            # WordPiece, chapter 8
    run = pretrain(docs, tok, PretrainConfig(steps=1500))    # a BertForPreTraining and its history
    reviews = load_labelled("bundled-reviews")               # {"train": Split, "validation": ..., "test": ...}
    few = few_labels(reviews["train"], 200)                  # 100 positive and 100 negative reviews
    clf = finetune(tok, few, {"test": reviews["test"]}, FinetuneConfig(), pretrained=run.model)
    clf.accuracy                                             # {"test": ...}

Modules: ``configs`` (settings, ``RecipeError``), ``data`` (what to train on), ``pretraining``,
``finetuning``, ``saved`` (model folders, evaluate, generate) and ``demo`` (the main job).
Everything here is built from the library's parts (``minilm.models.bert``, ``minilm.data.masking``,
``minilm.train.Trainer``); nothing here is needed to understand them.
"""

from minilm.data.corpus import Split
from minilm.recipes.configs import (
    BUNDLED_REVIEWS,
    BUNDLED_TEXT,
    FinetuneConfig,
    PretrainConfig,
    RecipeError,
    read_config,
    write_json,
)
from minilm.recipes.data import few_labels, load_labelled, pretraining_documents, split_sentences, train_tokenizer
from minilm.recipes.demo import DemoConfig, DemoResult, run_demo
from minilm.recipes.finetuning import FinetuneRun, accuracy, finetune
from minilm.recipes.pretraining import PretrainRun, bert_config, clm_scores, gpt_config, mlm_scores, pretrain
from minilm.recipes.saved import evaluate_model, generate_text, load_model, save_model

__all__ = [
    "BUNDLED_REVIEWS",
    "BUNDLED_TEXT",
    "DemoConfig",
    "DemoResult",
    "FinetuneConfig",
    "FinetuneRun",
    "PretrainConfig",
    "PretrainRun",
    "RecipeError",
    "Split",
    "accuracy",
    "bert_config",
    "clm_scores",
    "evaluate_model",
    "few_labels",
    "finetune",
    "generate_text",
    "gpt_config",
    "load_labelled",
    "load_model",
    "mlm_scores",
    "pretrain",
    "pretraining_documents",
    "read_config",
    "run_demo",
    "save_model",
    "split_sentences",
    "train_tokenizer",
    "write_json",
]
