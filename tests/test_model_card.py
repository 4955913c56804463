"""lepton.model_card and `lepton card`: a run's Markdown card, every figure from the store."""

import json
import re
from pathlib import Path

import pytest

from lepton import cli
from lepton.data import load_dataset
from lepton.evaluation import evaluate
from lepton.export import export_run
from lepton.inference import load_model
from lepton.jobs import execute_run
from lepton.model import layer_table
from lepton.model_card import CARD_FILE, card_for, card_text, write_card
from lepton.prediction import ModelReference, calibration
from lepton.profiling import profile_run
from lepton.registry import RunStore
from lepton.training import TrainConfig
from tests.conftest import SMALL_MODEL

SECTIONS = ["Model", "Data", "Training", "Accuracy", "Calibration", "Exported variants",
            "Where the time goes", "Intended use and known limits"]


def sections(text: str) -> dict[str, str]:
    """Each `## ` section's body, by title, in order."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {title: body for title, body in zip(parts[1::2], parts[2::2])}


def table_rows(body: str) -> list[list[str]]:
    """The cells of every Markdown table row (header included) in `body`."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in body.splitlines() if line.startswith("| ")]


@pytest.fixture
def evaluated_run(finished_run, store):
    """The conftest run with the metrics a real run stores after testing (per class too)."""
    dataset = load_dataset("mnist-5k")
    model = load_model(finished_run["model_path"])
    metrics = {**finished_run["metrics"],
               **evaluate(model, dataset.x_test, dataset.y_test, dataset.class_names),
               "class_names": list(dataset.class_names), "params": int(model.count_params())}
    store.update_run(finished_run["id"], metrics=metrics)
    return store.get_run(finished_run["id"])


def test_card_has_every_section_in_order(finished_run, store):
    text = card_text(store, finished_run)
    assert text.startswith(f"# Model card: Lepton run {finished_run['id']}\n")
    assert list(sections(text)) == SECTIONS
    assert f"`{store.home}`" in text


def test_card_states_the_stored_test_accuracy(finished_run, store):
    text = card_text(store, finished_run)
    accuracy = finished_run["metrics"]["test_accuracy"]
    assert f"Test accuracy **{accuracy:.2%}**" in sections(text)["Accuracy"]
    assert "Test accuracy **10.00%**" in text


def test_card_has_a_per_class_row_for_each_class(evaluated_run, store):
    body = sections(card_text(store, evaluated_run))["Accuracy"]
    per_class = evaluated_run["metrics"]["per_class"]
    assert len(per_class) == 10
    rows = table_rows(body)
    assert rows[0] == ["class", "precision", "recall", "F1", "images"]
    assert rows[1:] == [[item["class"], f"{item['precision']:.3f}", f"{item['recall']:.3f}",
                         f"{item['f1']:.3f}", str(item["support"])] for item in per_class]
    assert [row[0] for row in rows[1:]] == [str(digit) for digit in range(10)]
    assert sum(int(row[4]) for row in rows[1:]) == 1000  # mnist-5k's test set
    accuracy = evaluated_run["metrics"]["test_accuracy"]
    assert f"Test accuracy **{accuracy:.2%}**, test loss " \
           f"{evaluated_run['metrics']['test_loss']:.4f}." in body


def test_card_model_section_lists_every_layer(finished_run, store):
    body = sections(card_text(store, finished_run))["Model"]
    model = load_model(finished_run["model_path"])
    expected = layer_table(model)
    rows = table_rows(body)
    assert rows[0] == ["layer", "type", "output", "parameters", "MACs per image"]
    assert [row[:2] for row in rows[1:]] == [[row["name"], row["type"]] for row in expected]
    assert [row[4] for row in rows[1:]] == [f"{row['macs']:,}" for row in expected]
    assert f"{sum(row['macs'] for row in expected):,} multiply-accumulates" in body
    assert f"{len(model.layers)} layers" in body


def test_card_gives_the_ece_measured_now(finished_run, store):
    report = calibration(ModelReference.of_run(finished_run), finished_run, str(store.home))
    body = sections(card_text(store, finished_run))["Calibration"]
    before, after = report["as_trained"], report["scaled"]
    assert f"expected calibration error (10 bins) **{before['ece']:.4f}** as trained" in body
    assert f"A temperature of {report['temperature']:.2f}" in body
    assert f"gives an ECE of {after['ece']:.4f}" in body
    assert f"fitted on the {report['validation_images']:,} validation images" in body
    assert report["validation_images"] == 400  # the last 10 % of mnist-5k's 4,000
    assert f"On {report['test_images']:,} test images" in body


def test_card_without_a_validation_split_says_why_calibration_is_missing(finished_run, store):
    store.update_run(finished_run["id"],
                     train_config={**finished_run["train_config"], "validation_split": 0.0})
    text = card_text(store, store.get_run(finished_run["id"]))
    body = sections(text)["Calibration"].strip()
    assert body.startswith("Not measured: Fitting a temperature needs a validation set of 10 "
                           "images or more; train with a validation split.")
    assert "(ECE)" not in sections(text)["Intended use and known limits"]


def test_card_before_and_after_an_export(finished_run, store, tiny_data):
    before = sections(card_text(store, finished_run))["Exported variants"]
    assert "Not exported yet" in before
    rows = export_run(store, finished_run, tiny_data, ["fp32", "onnx"], repeats=30)
    assert [row["error"] for row in rows] == [None, None, None]
    after = sections(card_text(store, finished_run))["Exported variants"]
    assert "Not exported yet" not in after
    table = {cells[0]: cells for cells in table_rows(after)[1:]}
    assert list(table) == ["keras", "fp32", "onnx"]
    for row in rows:
        assert Path(row["path"]).stat().st_size == row["bytes"]
        cells = table[row["variant"]]
        assert cells[1] == f"{row['bytes']:,}"
        assert cells[2] == f"{row['test_accuracy']:.2%}"
        assert cells[3] == f"{row['p50_ms']:.3f}"
    assert "30 calls" in after and "batch" in after


def test_card_lists_the_profile_once_measured(finished_run, store, tiny_data):
    assert f"Not profiled yet (`lepton profile --run {finished_run['id']}`" in card_text(
        store, finished_run)
    profile = profile_run(store, finished_run, tiny_data, repeats=30)
    body = sections(card_text(store, finished_run))["Where the time goes"]
    rows = table_rows(body)
    assert rows[0] == ["layer", "type", "MACs", "one image µs", "batch µs per image"]
    assert rows[1:] == [[layer["name"], layer["type"], f"{layer['macs']:,}",
                         f"{layer['ms'] * 1000:.1f}", f"{layer['batch_ms_per_image'] * 1000:.2f}"]
                        for layer in profile["layers"]]
    assert f"whole model {profile['model']['ms'] * 1000:.1f} µs" in body


def test_write_card_and_card_for_write_it_in_the_run_folder(finished_run, store, tmp_path):
    path = write_card(store, finished_run)
    assert path == store.run_folder(finished_run["id"]) / CARD_FILE
    assert path.read_text().startswith(f"# Model card: Lepton run {finished_run['id']}")
    elsewhere = write_card(store, finished_run, tmp_path / "cards" / "card.md")
    assert elsewhere.is_file() and list(sections(elsewhere.read_text())) == SECTIONS
    text = card_for(str(store.home), finished_run["id"])
    assert text == path.read_text()


def test_card_refuses_a_run_without_a_model(store):
    run_id = store.create_run("mnist-5k", {}, {}, status="failed")
    with pytest.raises(ValueError, match=f"Run {run_id} has no model to describe; it is failed"):
        card_text(store, store.get_run(run_id))


def test_card_counts_the_parameters_of_the_model_it_loaded(finished_run, store):
    assert "params" not in finished_run["metrics"]
    model = load_model(finished_run["model_path"])
    body = sections(card_text(store, finished_run))["Model"]
    assert f"{model.count_params():,} parameters" in body


# --- a real run, as `lepton train` leaves it ---------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    home = tmp_path_factory.mktemp("card_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEPTON_HOME", str(home))
        store = RunStore(home)
        run = execute_run(store, store.create_run(
            "mnist-5k", SMALL_MODEL.to_dict(),
            TrainConfig(epochs=1, subset=1000, batch_size=64).to_dict()))
        assert run["status"] == "done", run["reason"]
        yield store, run


def test_card_of_a_trained_run_reads_its_timings_data_and_preprocessing(trained):
    store, run = trained
    text = card_text(store, run)
    metrics, timings = run["metrics"], run["timings"]
    model = sections(text)["Model"]
    assert f"{metrics['params']:,} parameters" in model
    assert f"`model.keras` {metrics['model_bytes']:,} bytes" in model
    assert f"`model.tflite` {metrics['tflite_bytes']:,} bytes" in model
    data = sections(text)["Data"]
    assert f"{metrics['train_samples']:,} training images (10% of them held out" in data
    assert "classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9." in data
    assert "MNIST-style" in data
    training = sections(text)["Training"]
    assert f"in {timings['wall_seconds']:.1f} s wall" in training
    assert f"over {timings['epochs_done']} epochs" in training
    assert "| subset | 1000 |" in training
    assert "no timings" not in training
    assert f"Test accuracy **{metrics['test_accuracy']:.2%}**" in text
    assert len(table_rows(sections(text)["Accuracy"])) == 11
    assert "handwritten digit" in sections(text)["Intended use and known limits"]
    report = calibration(ModelReference.of_run(run), run, str(store.home))
    assert report["validation_images"] == 100  # 10 % of the 1,000-image subset
    assert f"**{report['as_trained']['ece']:.4f}** as trained" in text


# --- lepton card --------------------------------------------------------------------------------


def test_cli_card_writes_the_file_and_prints_the_markdown(finished_run, tmp_path, capsys):
    path = tmp_path / "out" / "card.md"
    code = cli.main(["card", "--run", str(finished_run["id"]), "--output", str(path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert path.is_file()
    assert captured.out == path.read_text() + "\n"
    assert captured.out.startswith(f"# Model card: Lepton run {finished_run['id']}\n")
    assert list(sections(captured.out)) == SECTIONS
    assert "writing the card" in captured.err  # progress on stderr


def test_cli_card_json_gives_the_run_and_the_path(finished_run, store, capsys):
    code = cli.main(["card", "--run", str(finished_run["id"]), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)
    expected = store.run_folder(finished_run["id"]) / CARD_FILE
    assert document == {"run_id": finished_run["id"], "path": str(expected)}
    assert expected.read_text().startswith(f"# Model card: Lepton run {finished_run['id']}")


def test_cli_card_refuses_a_run_without_a_model(store, capsys):
    run_id = store.create_run("mnist-5k", {}, {}, status="failed")
    code = cli.main(["card", "--run", str(run_id)])
    captured = capsys.readouterr()
    assert code != 0 and captured.out == ""
    assert f"Run {run_id} is failed and has no model to use." in captured.err
    assert not (store.run_folder(run_id) / CARD_FILE).exists()


@pytest.mark.parametrize("reference", ["999", "failed"])
def test_cli_card_of_an_unusable_run_exits_2_like_export(store, capsys, reference):
    failed = store.create_run("mnist-5k", {}, {}, status="failed")
    run = str(failed) if reference == "failed" else reference
    assert cli.main(["export", "--run", run, "--json"]) == 2
    capsys.readouterr()
    assert cli.main(["card", "--run", run, "--json"]) == 2
