"""lepton.profiling and `lepton profile`: each layer timed alone in LiteRT beside its MACs."""

import json
from pathlib import Path

import pytest

from lepton import cli
from lepton.background import read_progress
from lepton.host import cpu_model
from lepton.inference import file_sha256, load_model
from lepton.model import ModelConfig, build_model, layer_table
from lepton.profiling import PROFILE_FILE, load_profile, profile_model, profile_run
from lepton.registry import RunStore

REPEATS = 30
REFERENCE_MACS = 26 * 26 * 64 * 9 * 64  # a 3×3 conv of 64 to 64 channels on 28×28, valid


@pytest.fixture(scope="module")
def profiled(tiny_model, tiny_data):
    """The tiny model's profile and the progress it reported on the way."""
    calls = []
    document = profile_model(tiny_model, tiny_data.x_test, repeats=REPEATS,
                             on_progress=lambda fraction, text: calls.append((fraction, text)))
    return document, calls


def test_one_row_per_keras_layer_with_its_name_type_and_macs(profiled, tiny_model):
    document, _ = profiled
    expected = layer_table(tiny_model)
    assert [row["name"] for row in document["layers"]] == [layer.name for layer in
                                                           tiny_model.layers]
    assert [row["type"] for row in document["layers"]] == [type(layer).__name__ for layer in
                                                           tiny_model.layers]
    assert [row["type"] for row in document["layers"]] == ["Conv2D", "MaxPooling2D", "Flatten",
                                                           "Dense", "Dense"]
    for row, table in zip(document["layers"], expected, strict=True):
        assert row["macs"] == table["macs"]
        assert row["params"] == table["params"]
        assert row["output_shape"] == list(table["output_shape"])
        assert row["activation_bytes"] == table["activations"] * 4
    assert [row["macs"] for row in document["layers"]] == [26 * 26 * 8 * 9, 0, 0, 1352 * 16,
                                                           16 * 10]


def test_every_layer_and_the_whole_model_take_time(profiled):
    document, _ = profiled
    for row in document["layers"]:
        assert row["ms"] > 0, row["name"]
        assert row["p95_ms"] >= row["ms"], row["name"]
        assert row["batch_ms_per_image"] > 0, row["name"]
        assert row["ms"] < 50, row  # one tiny layer, one image: microseconds, not a second
    whole = document["model"]
    assert whole["ms"] > 0 and whole["batch_ms_per_image"] > 0 and whole["p95_ms"] >= whole["ms"]
    assert "outputs" not in whole and all("outputs" not in row for row in document["layers"])
    assert document["layers_ms"] == pytest.approx(sum(row["ms"] for row in document["layers"]))


def test_share_of_peak_is_none_exactly_for_layers_without_macs(profiled):
    document, _ = profiled
    for row in document["layers"]:
        for key in ("one_image_share_of_peak", "batch_share_of_peak"):
            if row["macs"] == 0:
                assert row[key] is None, (row["name"], key)
            else:
                assert row[key] > 0, (row["name"], key)
    reference = document["reference"]
    conv = document["layers"][0]
    assert conv["one_image_share_of_peak"] == pytest.approx(
        conv["macs"] / (conv["ms"] / 1000) / reference["one_image_macs_per_second"])
    assert conv["batch_share_of_peak"] == pytest.approx(
        conv["macs"] / (conv["batch_ms_per_image"] / 1000) / reference["batch_macs_per_second"])


def test_reference_rates_and_method(profiled):
    document, _ = profiled
    reference = document["reference"]
    assert reference["macs"] == REFERENCE_MACS
    assert reference["one_image_macs_per_second"] > 1e8  # any CPU does 0.1 GMAC/s
    assert reference["batch_macs_per_second"] > 1e8
    method = document["method"]
    assert method["cpu"] == cpu_model() and method["cpu"]
    assert method["repeats"] == REPEATS
    assert method["batch"] == 256
    assert method["images"] == 100  # the first 100 test images feed the layers
    assert "LiteRT" in method["runtime"]
    json.dumps(document)  # stored as it is


def test_progress_names_every_layer_in_order(profiled, tiny_model):
    _, calls = profiled
    fractions = [fraction for fraction, _ in calls]
    assert fractions[0] == 0.0 and fractions == sorted(fractions) and fractions[-1] < 1.0
    texts = [str(text) for _, text in calls[1:]]
    assert len(texts) == len(tiny_model.layers)
    for text, layer in zip(texts, tiny_model.layers):
        assert layer.name in text


# --- profile_run and load_profile ---------------------------------------------------------------


def test_profile_run_is_stored_and_forgotten_when_the_model_changes(finished_run, store,
                                                                    tiny_data):
    assert load_profile(store, finished_run) is None  # never profiled
    document = profile_run(store, finished_run, tiny_data, repeats=REPEATS)
    path = store.run_folder(finished_run["id"]) / PROFILE_FILE
    assert path.is_file()
    assert json.loads(path.read_text()) == json.loads(json.dumps(document))
    assert document["run_id"] == finished_run["id"]
    assert document["model_sha256"] == file_sha256(finished_run["model_path"])
    assert document["seconds"] > 0 and document["measured_at"]
    model = load_model(finished_run["model_path"])
    assert [row["name"] for row in document["layers"]] == [layer.name for layer in model.layers]

    loaded = load_profile(store, finished_run)
    assert loaded == json.loads(json.dumps(document))
    assert loaded == load_profile(RunStore(store.home), store.get_run(finished_run["id"]))

    # Trained again, or replaced: the stored times are of another model.
    build_model(ModelConfig(filters=(4,), dense_units=8)).save(finished_run["model_path"])
    assert file_sha256(finished_run["model_path"]) != document["model_sha256"]
    assert load_profile(store, finished_run) is None
    assert path.is_file()  # kept, just not shown


def test_load_profile_ignores_a_missing_model_or_a_damaged_file(finished_run, store):
    folder = store.run_folder(finished_run["id"])
    (folder / PROFILE_FILE).write_text(json.dumps(
        {"model_sha256": file_sha256(finished_run["model_path"]), "layers": []}))
    assert load_profile(store, finished_run) == {
        "model_sha256": file_sha256(finished_run["model_path"]), "layers": []}
    assert load_profile(store, {**finished_run, "model_path": None}) is None
    assert load_profile(store, {**finished_run, "model_path": str(folder / "gone.keras")}) is None
    (folder / PROFILE_FILE).write_text("{not json")
    assert load_profile(store, finished_run) is None


def test_profile_run_refuses_a_run_without_a_model(store, tiny_data):
    run_id = store.create_run("mnist-5k", {}, {}, status="failed")
    run = store.get_run(run_id)
    with pytest.raises(ValueError, match=f"Run {run_id} has no model to profile; it is failed"):
        profile_run(store, run, tiny_data, repeats=REPEATS)
    assert not (store.run_folder(run_id) / PROFILE_FILE).exists()


# --- lepton profile -----------------------------------------------------------------------------


def test_cli_profile_json_prints_every_layer(finished_run, store, capsys):
    code = cli.main(["profile", "--run", str(finished_run["id"]), "--json", "--repeats",
                     str(REPEATS)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)  # stdout holds the document and nothing else
    names = [layer.name for layer in load_model(finished_run["model_path"]).layers]
    assert [layer["name"] for layer in document["layers"]] == names
    for layer in document["layers"]:
        assert {"name", "ms", "macs"} <= set(layer)
        assert layer["ms"] > 0 and isinstance(layer["macs"], int)
    assert document["run_id"] == finished_run["id"]
    assert document["method"]["repeats"] == REPEATS
    assert "Timing layer conv1" in captured.err  # progress goes to stderr
    stored = json.loads((store.run_folder(finished_run["id"]) / PROFILE_FILE).read_text())
    assert stored == document


def test_cli_profile_text_table_and_progress_file(finished_run, tmp_path, capsys):
    progress = tmp_path / "progress.json"
    code = cli.main(["profile", "--run", "latest", "--repeats", str(REPEATS),
                     "--progress-file", str(progress)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    assert lines[0].startswith(f"run {finished_run['id']} on {cpu_model()}")
    assert lines[1].split()[:2] == ["layer", "type"]
    names = [layer.name for layer in load_model(finished_run["model_path"]).layers]
    assert [line.split()[0] for line in lines[2:-1]] == names
    assert lines[2].split()[1:3] == ["Conv2D", f"{26 * 26 * 8 * 9:,}"]
    assert lines[-1].startswith("whole model: ")
    record = read_progress(progress, "profile")
    assert record["status"] == "done" and record["fraction"] == 1.0


def test_cli_profile_refuses_a_run_without_a_model(lepton_home, store, capsys):
    run_id = store.create_run("mnist-5k", {}, {}, status="failed")
    code = cli.main(["profile", "--run", str(run_id), "--json", "--repeats", str(REPEATS)])
    captured = capsys.readouterr()
    assert code != 0
    assert captured.out == ""
    assert f"error: Run {run_id} is failed and has no model to use." in captured.err
    assert not Path(store.run_folder(run_id) / PROFILE_FILE).exists()


@pytest.mark.parametrize("reference", ["999", "failed"])
def test_cli_profile_of_an_unusable_run_exits_2_like_export(lepton_home, store, capsys,
                                                            reference):
    failed = store.create_run("mnist-5k", {}, {}, status="failed")
    run = str(failed) if reference == "failed" else reference
    assert cli.main(["export", "--run", run, "--json"]) == 2
    capsys.readouterr()
    assert cli.main(["profile", "--run", run, "--json"]) == 2


def test_cli_profile_refuses_zero_repeats_like_export(finished_run, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["profile", "--run", str(finished_run["id"]), "--repeats", "0"])
    assert exit_info.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err
