"""Hostile uploads, links and arguments: each gets a clear message, nothing crashes.

The corpus (tests/hostile_corpus.py) goes through the preprocessing function, the command line
and the Predict page; hostile query strings go through the Train page, hostile arguments
through the CLI. Regression guarded: a 32-bit float picture holding ±3e38 overflowed float32
in `_high_depth_to_levels` and escaped as a bare `ValueError` (NaN to integer), which the
Predict page does not catch: one such upload crashed the whole batch.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lepton.data import DATASET_NAMES
from lepton.imaging import ImageError, preprocess_image
from lepton.recipes import default_config
from tests.conftest import SMALL_MODEL
from tests.hostile_corpus import (
    DUPLICATE_NAME,
    HTML_NAME,
    LONG_NAME,
    NON_ASCII_NAME,
    encode,
    hostile_cases,
    seven,
    write_corpus,
)

PROJECT = Path(__file__).resolve().parent.parent
APP = "../app.py"  # resolved against this file
TIMEOUT = 120
CASES = hostile_cases()
BAD = [case for case in CASES if case.expect == "error"]
GOOD = [case for case in CASES if case.expect == "answer"]
UNIQUE = list({case.name: case for case in CASES}.values())


def test_the_corpus_is_big_and_awkward_enough():
    assert len(UNIQUE) >= 30
    assert len(LONG_NAME) == 200
    names = [case.name for case in CASES]
    assert names.count(DUPLICATE_NAME) == 2
    assert NON_ASCII_NAME in names and not NON_ASCII_NAME.isascii()
    assert HTML_NAME in names
    assert len(BAD) >= 15 and len(GOOD) >= 15


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory):
    """A LEPTON_HOME (also set as the environment variable) holding one tiny finished run."""
    from lepton.jobs import execute_run
    from lepton.registry import RunStore
    from lepton.training import TrainConfig

    home = tmp_path_factory.mktemp("hostile_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEPTON_HOME", str(home))
        store = RunStore(home)
        run_id = store.create_run("mnist-5k", SMALL_MODEL.to_dict(),
                                  TrainConfig(epochs=1, subset=300, batch_size=64).to_dict())
        run = execute_run(store, run_id)
        assert run["status"] == "done", run["reason"]
        yield home


# --- (1) lepton.imaging.preprocess_image ----------------------------------------------------


@pytest.mark.parametrize("case", UNIQUE, ids=[f"{i:02d}-{c.name[:24]}" for i, c in
                                              enumerate(UNIQUE)])
def test_each_file_is_preprocessed_or_refused_with_a_clear_message(case):
    try:
        result = preprocess_image(case.data)
    except ImageError as error:
        outcome, message = "error", str(error)
    else:
        outcome, message = "answer", ""
        image = result.input
        assert image.shape == (28, 28, 1) and image.dtype == np.float32
        assert np.isfinite(image).all()
        assert image.min() >= 0.0 and image.max() <= 1.0
        assert image.max() == pytest.approx(1.0)
    assert outcome == case.expect, f"{case.name}: {message}"
    if outcome == "error":
        assert case.fragment in message
        assert len(message) < 400  # readable, no traceback or pixel dump
        assert re.search(r"\b(Upload|upload|Resize|re-save)\b", message)  # says what to do


BOMB_PROBE = """
import resource, sys, time
from tests.hostile_corpus import hostile_cases
from lepton.imaging import ImageError, preprocess_image

bombs = [case for case in hostile_cases() if case.name.startswith("bomb")]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for case in bombs:
    started = time.perf_counter()
    try:
        preprocess_image(case.data)
        outcome = "answered"
    except ImageError as error:
        outcome = "refused"
    print(case.name, outcome, time.perf_counter() - started)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("peak_rss_growth_kib", after - before)
"""


def test_decompression_bombs_are_refused_fast_without_allocating():
    """In a fresh process, so the peak resident size (ru_maxrss) shows any decode attempt."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT), str(PROJECT / "tests")])}
    result = subprocess.run([sys.executable, "-c", BOMB_PROBE], cwd=PROJECT, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.split("\n")
    outcomes = [line.split() for line in lines if line.startswith("bomb")]
    assert len(outcomes) == 4
    for name, outcome, seconds in outcomes:
        assert outcome == "refused", name
        assert float(seconds) < 2.0, name
    growth_kib = int(next(line for line in lines if line.startswith("peak")).split()[1])
    print(result.stdout)  # shown with pytest -rP
    # Decoding the smallest of them (8000×8000 grayscale) alone would take 64 MB; the largest
    # would take 10 GB.
    assert growth_kib < 200 * 1024


# --- (2) the command line -------------------------------------------------------------------


def test_the_whole_corpus_through_the_command_line(trained_home, tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    result = subprocess.run(
        [sys.executable, "-m", "lepton", "predict", "--run", "latest",
         *[str(path) for _, path in corpus], "--json"],
        cwd=PROJECT, env={**os.environ, "LEPTON_HOME": str(trained_home)},
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 1, result.stderr[-2000:]  # some files failed, none crashed it
    predictions = json.loads(result.stdout)["predictions"]
    assert [entry["file"] for entry in predictions] == [str(path) for _, path in corpus]
    for (case, _), entry in zip(corpus, predictions):
        if case.expect == "error":
            assert entry["label"] is None and entry["probabilities"] is None, case.name
            assert case.fragment in entry["error"], (case.name, entry["error"])
        else:
            assert entry["error"] is None, (case.name, entry["error"])
            assert entry["label"] in list("0123456789")
            assert sum(entry["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    duplicates = [entry for (case, _), entry in zip(corpus, predictions)
                  if case.name == DUPLICATE_NAME]
    assert len(duplicates) == 2 and duplicates[0]["probabilities"] == duplicates[1][
        "probabilities"]


@pytest.mark.parametrize("arguments, message", [
    (["train", "--epochs", "-5"], "Expected epochs in 1..500, got -5."),
    (["train", "--batch-size", "0"], "Expected batch_size in 1..8192, got 0."),
    (["train", "--learning-rate", "nan"], "Expected a finite learning_rate, got nan."),
    (["train", "--learning-rate", "inf"], "Expected a finite learning_rate, got inf."),
    (["train", "--learning-rate", "-1"], "Expected learning_rate in (0, 10], got -1.0."),
    (["train", "--dropout", "1.5"], "Expected dropout_rate in [0, 1), got 1.5."),
    (["train", "--subset", "5"], "Expected subset ≥ 10"),
    (["train", "--kernel-size", "99"], "Expected kernel_size in 1..7, got 99."),
    (["train", "--filters", "99999"], "Expected filters in 1..512 per block, got 99999."),
    (["train", "--filters", "8,8,8,8,8"], "Expected 1..3 conv blocks, got 5."),
    (["train", "--validation-split", "0.95"], "Expected validation_split in [0, 0.9)"),
    (["train", "--seed", "-1"], "Expected a non-negative seed, got -1."),
    (["train", "--precision", "float16"], "Expected precision in"),
    (["train", "--pooling", "../../etc"], "Expected pooling in"),
    (["train", "--filters", "<script>"], "expected comma-separated filter counts"),
    (["train", "--epochs", "1e9"], "invalid int value: '1e9'"),
    (["predict", "--top", "0", "x.png"], "expected a positive integer, got 0"),
    (["predict", "--run", "../../etc/passwd", "x.png"], "Expected a run id, 'latest' or 'best'"),
    (["predict", "--run", "-1", "x.png"], "There is no run -1"),
    (["train", "--dataset", "imagenet"], "invalid choice"),
    (["evaluate", "--run", "best"], "There is no finished run yet"),
])
def test_hostile_arguments_exit_2_with_a_clear_message(lepton_home, capsys, arguments, message):
    from lepton.cli import main

    try:
        code = main([*arguments, "--json"])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err
    assert captured.out == ""
    assert "Traceback" not in captured.err
    runs = lepton_home / "runs"
    assert not runs.exists() or not list(runs.iterdir())  # no run folder was made


# --- (3) the Predict page -------------------------------------------------------------------


@pytest.fixture
def predict_page(trained_home):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/predict.py").run()
    assert not at.exception
    return at


def test_the_whole_corpus_at_once_on_the_predict_page(predict_page):
    at = predict_page
    at.file_uploader(key="uploads").set_value(
        [(case.name, case.data, case.mime) for case in CASES]
    ).run()
    assert not at.exception, at.exception
    errors = [error.value for error in at.error]
    assert len(errors) == len(BAD)
    for case, error in zip(BAD, errors):  # in upload order, one per bad file, naming it
        assert error.startswith(f"{case.name}: "), error
        assert case.fragment in error, error
    table = at.dataframe[0].value
    assert list(table["file"]) == [case.name for case in CASES]
    answered = table["prediction"].notna()
    assert list(answered) == [case.expect == "answer" for case in CASES]
    assert set(table.loc[answered, "prediction"]) <= set("0123456789")
    assert table.loc[~answered, "error"].notna().all()
    # The first good file is shown in detail; every good one can be picked for inspection.
    assert [metric.label for metric in at.metric] == ["Prediction"]
    assert len(at.selectbox(key="inspect").options) == len(GOOD)


# --- (4) hostile links on the Train page ----------------------------------------------------

HOSTILE_LINK = {
    "epochs": "-5", "lr": "nan", "batch": "0", "blocks": "99", "filters1": "<script>alert(1)"
    "</script>", "pooling": "../../etc", "subset": "1e308", "seed": "-1", "dropout": "inf",
    "kernel": "3.5", "validation": "", "activation": "__import__('os')",
    "optimizer": "adam' OR 1=1 --", "precision": "x" * 5000, "dataset": "../../etc/passwd",
    "<b>unknown</b>": "1",
}


# The Train page's defaults (pages/train.py FIELDS; importing a page would run it): its
# optimisation defaults are Lepton's default recipe for the LEPTON_HOME.
def train_page_defaults(home) -> dict:
    recipe = default_config(home)
    return {"epochs": recipe.epochs, "lr": recipe.learning_rate, "batch": recipe.batch_size,
            "blocks": 2, "filters1": 32, "pooling": "max", "kernel": 3, "activation": "relu",
            "optimizer": "adam"}


LINK_FIELDS = ("epochs", "lr", "batch", "blocks", "filters1", "pooling", "subset", "seed",
               "dropout", "kernel", "validation", "activation", "optimizer", "precision")


def test_hostile_link_on_the_train_page_falls_back_to_defaults(trained_home):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(HOSTILE_LINK)
    at.run()  # the router and its sidebar read `dataset` from the link
    assert not at.exception, at.exception
    assert at.selectbox(key="dataset").value in DATASET_NAMES  # not ../../etc/passwd
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    notices = [warning.value for warning in at.warning]
    for name in LINK_FIELDS:
        assert any(notice.startswith(f"Ignored {name}=") for notice in notices), name
    assert any("Ignored unknown link parameters: <b>unknown</b>." == notice
               for notice in notices)
    assert all(len(notice) < 300 for notice in notices)  # the 5000-character value is cut
    widgets = {"epochs": at.slider, "lr": at.select_slider, "batch": at.select_slider,
               "blocks": at.slider, "filters1": at.select_slider, "pooling": at.selectbox,
               "kernel": at.slider, "activation": at.selectbox, "optimizer": at.selectbox}
    defaults = train_page_defaults(trained_home)
    assert {key: widgets[key](key=key).value for key in defaults} == defaults
    assert not at.error  # the defaults make a trainable configuration
    assert "start" in [button.key for button in at.button]


# --- (5) names are text, never HTML ---------------------------------------------------------


def test_html_in_file_names_is_shown_as_literal_text(predict_page):
    good_name = "<script>alert('seven')</script><b>7</b>.png"
    predict_page.file_uploader(key="uploads").set_value([
        (HTML_NAME, b"<script>alert(1)</script>", "image/png"),
        (good_name, encode(seven(), "PNG"), "image/png"),
    ]).run()
    at = predict_page
    assert not at.exception, at.exception
    assert [error.value.split(": ")[0] for error in at.error] == [HTML_NAME]
    assert list(at.dataframe[0].value["file"]) == [HTML_NAME, good_name]
    assert at.error[0].proto.body.startswith(HTML_NAME)  # the literal name, unescaped text
    # Alerts have no HTML switch at all; no Markdown element on the page turns HTML on.
    assert not any(text.proto.allow_html for text in [*at.markdown, *at.caption])


UNSAFE = re.compile(r"unsafe_allow_html\s*=\s*True|\bst\.html\(|components\.v1\.html|"
                    r"components\.html\(")


def test_no_page_renders_raw_html():
    sources = [PROJECT / "app.py", *sorted((PROJECT / "pages").glob("*.py"))]
    offenders = [f"{path.name}:{number}" for path in sources
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if UNSAFE.search(line)]
    assert offenders == []
