"""`python -m lepton train`: one default everywhere, the article's recipe, a worker process."""

import json
import os
import signal
import subprocess
import sys

from lepton.recipes import ARTICLE, default_config
from tests.test_cli import PROJECT, lepton


def test_with_no_recipe_flags_it_trains_the_train_pages_default(tmp_path):
    result = lepton("train", "--dataset", "mnist-5k", "--subset", "300", "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads(result.stdout)
    assert document["recipe"] == "default"
    assert document["train_config"] == default_config(tmp_path, subset=300).to_dict()
    assert document["steady_samples_per_second"] > 0  # 30 epochs: epochs 2+ are steady state
    assert "worker process" in result.stderr


def test_recipe_article_with_a_flag_overrides_just_that_setting(tmp_path):
    result = lepton("train", "--recipe", "article", "--subset", "300", "--epochs", "1",
                    "--batch-size", "64", "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    config = json.loads(result.stdout)["train_config"]
    assert config == {**ARTICLE.to_dict(), "subset": 300, "epochs": 1, "batch_size": 64}


def test_help_says_what_the_default_trains():
    result = subprocess.run([sys.executable, "-m", "lepton", "train", "--help"], cwd=PROJECT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "exactly the Train page's default recipe" in text
    assert "article: the article's script as printed" in text


def test_an_unknown_recipe_is_a_usage_error(tmp_path):
    result = lepton("train", "--recipe", "turbo", home=tmp_path)
    assert result.returncode == 2
    assert "Expected a recipe in ('default', 'article'), got 'turbo'" in result.stderr


def test_ctrl_c_stops_the_worker_after_its_current_batch(tmp_path):
    command = [sys.executable, "-m", "lepton", "train", "--recipe", "article", "--subset",
               "2000", "--epochs", "50", "--json"]
    process = subprocess.Popen(command, cwd=PROJECT,
                               env={**os.environ, "LEPTON_HOME": str(tmp_path)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:  # wait for the first finished epoch
            if line.startswith("epoch 1/50"):
                break
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 1
    document = json.loads(stdout)
    assert document["status"] == "cancelled"
    assert document["reason"] == "stopped by the user"
