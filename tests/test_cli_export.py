"""`python -m lepton export`, and predict/evaluate on the fast path, after a real tiny run."""

import json
from pathlib import Path

import numpy as np
import pytest

from lepton import cli, inference, prediction
from lepton.export import VARIANTS
from lepton.jobs import execute_run
from lepton.registry import RunStore
from lepton.training import TrainConfig
from tests.conftest import SMALL_MODEL
from tests.digit_images import mnist_digit, realistic_upload

QUICK = TrainConfig(epochs=2, subset=1000, batch_size=64)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A LEPTON_HOME holding one run of SMALL_MODEL executed by `lepton.jobs.execute_run`."""
    home = tmp_path_factory.mktemp("lepton_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEPTON_HOME", str(home))
        store = RunStore(home)
        run = execute_run(store, store.create_run("mnist-5k", SMALL_MODEL.to_dict(),
                                                  QUICK.to_dict()))
        assert run["status"] == "done", run["reason"]
        yield home, run


def run_cli(capsys, *arguments) -> tuple[int, str, str]:
    code = cli.main(list(arguments))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_finished_run_has_its_tflite_size_and_latency(home):
    _, run = home
    folder = Path(run["model_path"]).parent
    assert (folder / "model.tflite").stat().st_size == run["metrics"]["tflite_bytes"]
    assert 0 < run["metrics"]["latency_ms"] < 100
    assert "tflite_error" not in run["metrics"]


def test_export_json_lists_every_variant_measured(home, capsys):
    _, run = home
    code, out, err = run_cli(capsys, "export", "--run", "latest", "--repeats", "50", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["run_id"] == run["id"]
    assert [row["variant"] for row in document["variants"]] == ["keras", *VARIANTS]
    for row in document["variants"]:
        assert {"variant", "path", "bytes", "test_accuracy", "p50_ms", "p95_ms",
                "images_per_second"} <= set(row)
        assert Path(row["path"]).stat().st_size == row["bytes"]
        assert row["error"] is None
    by_variant = {row["variant"]: row for row in document["variants"]}
    assert by_variant["fp32"]["test_accuracy"] == pytest.approx(run["metrics"]["test_accuracy"])
    assert by_variant["int8-dynamic"]["bytes"] < by_variant["fp32"]["bytes"]
    assert "Converting and measuring int8-full" in err  # progress goes to stderr


def test_export_text_is_a_table(home, capsys):
    code, out, _ = run_cli(capsys, "export", "--run", "best", "--variants", "int8-dynamic",
                           "--repeats", "20")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split()[:4] == ["variant", "size", "vs", "keras"]
    assert [line.split()[0] for line in lines[2:]] == ["keras", "int8-dynamic"]
    assert lines[3].endswith("model-int8-dynamic.tflite")


@pytest.mark.parametrize("arguments, message", [
    (["--variants", "fp32,int4"], "expected comma-separated variants from fp32,fp16"),
    (["--variants", ""], "expected comma-separated variants"),
    (["--repeats", "0"], "expected a positive integer"),
])
def test_export_bad_arguments_exit_2(home, capsys, arguments, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["export", *arguments])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_export_of_an_unknown_run_exits_2(home, capsys):
    code, _, err = run_cli(capsys, "export", "--run", "999", "--json")
    assert code == 2
    assert "There is no run 999" in err


def test_predict_and_evaluate_use_the_litert_model(home, capsys, tmp_path, monkeypatch):
    _, run = home
    made = []
    real_predictor_for = prediction.predictor_for

    def spying_predictor_for(*arguments, **keywords):
        made.append(real_predictor_for(*arguments, **keywords))
        return made[-1]

    monkeypatch.setattr(prediction, "predictor_for", spying_predictor_for)
    digit, _ = mnist_digit(7)
    photo = tmp_path / "digit.jpg"
    photo.write_bytes(realistic_upload(digit))
    code, out, err = run_cli(capsys, "predict", "--run", "latest", str(photo), "--json")
    assert code == 0, err
    probabilities = json.loads(out)["predictions"][0]["probabilities"]
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    code, out, err = run_cli(capsys, "evaluate", "--run", "latest", "--json")
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["test_accuracy"] == pytest.approx(run["metrics"]["test_accuracy"], abs=1e-6)
    assert metrics["test_loss"] == pytest.approx(run["metrics"]["test_loss"], abs=1e-4)
    assert [type(predictor).__name__ for predictor in made] == ["LiteRTPredictor"] * 2


def test_a_failed_conversion_leaves_the_run_done(lepton_home, monkeypatch):
    from lepton import export

    def failing(*arguments, **keywords):
        raise RuntimeError("converter exploded")

    monkeypatch.setattr(export, "export_tflite", failing)
    store = RunStore(lepton_home)
    run = execute_run(store, store.create_run(
        "mnist-5k", SMALL_MODEL.to_dict(), TrainConfig(epochs=1, subset=300).to_dict()))
    assert run["status"] == "done", run["reason"]
    assert run["metrics"]["tflite_error"] == "RuntimeError: converter exploded"
    assert "latency_ms" not in run["metrics"]
    assert not (store.run_folder(run["id"]) / "model.tflite").exists()
    assert isinstance(prediction.predictor_for(run["model_path"]), inference.Predictor)
    assert np.isfinite(run["metrics"]["test_accuracy"])
