"""lepton.export and the LiteRT side of lepton.inference, checked against the Keras model itself."""

import dataclasses
import json
import os
import threading

import keras
import numpy as np
import pytest

from lepton import export
from lepton.export import (
    TFLITE_VARIANTS,
    VARIANTS,
    export_run,
    export_tflite,
    load_measurements,
    write_fast_model,
)
from lepton.inference import (
    CACHED_BATCH_SIZES,
    FAST_MODEL_NAME,
    LiteRTPredictor,
    Predictor,
    fast_model_path,
)
from lepton.prediction import predictor_for
from tests.conftest import SMALL_MODEL

FP32_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def trained_model():
    """SMALL_MODEL trained 2 epochs on mnist-5k's 4,000 digits (~87 % accurate, ~2 s).

    The one-epoch `tiny_model` is too unsure (top probability ~0.15) for agreement checks:
    quantisation flips its near-ties, whereas a trained model keeps ≥ 99 % of its answers.
    """
    from lepton.data import load_dataset
    from lepton.training import TrainConfig, fit

    dataset = load_dataset("mnist-5k")
    result = fit(SMALL_MODEL, TrainConfig(epochs=2, batch_size=64), dataset.x_train,
                 dataset.y_train)
    assert result.status == "done", result.reason
    return result.model


@pytest.fixture(scope="module")
def keras_probabilities(trained_model, tiny_data):
    return np.asarray(trained_model(tiny_data.x_test, training=False))


@pytest.fixture(scope="module")
def exported(trained_model, tiny_data, tmp_path_factory):
    """The tiny model as every TFLite variant: variant → path."""
    folder = tmp_path_factory.mktemp("exports")
    return {
        variant: export_tflite(trained_model, folder / f"{variant}.tflite", variant,
                               representative=tiny_data.x_train[:100])
        for variant in TFLITE_VARIANTS
    }


@pytest.fixture(scope="module")
def saved_model(trained_model, tmp_path_factory):
    """The tiny model saved as a run would save it: <folder>/model.keras."""
    path = tmp_path_factory.mktemp("run") / "model.keras"
    trained_model.save(path)
    return path


@pytest.fixture(scope="module")
def fp32_predictor(exported):
    return LiteRTPredictor(exported["fp32"])


# --- export_tflite --------------------------------------------------------------------------


@pytest.mark.parametrize("variant", TFLITE_VARIANTS)
def test_every_variant_loads_and_predicts_probabilities(exported, tiny_data, variant):
    predictor = LiteRTPredictor(exported[variant])
    probabilities = predictor(tiny_data.x_test)
    assert predictor.input_shape == (28, 28, 1)
    assert predictor.num_classes == 10
    assert probabilities.shape == (200, 10)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=0.02)


def test_fp32_matches_keras_on_the_test_images(fp32_predictor, tiny_data, keras_probabilities):
    np.testing.assert_allclose(fp32_predictor(tiny_data.x_test), keras_probabilities,
                               atol=FP32_TOLERANCE)


@pytest.mark.parametrize("variant", ["fp16", "int8-dynamic", "int8-full"])
def test_compressed_variants_agree_with_keras_on_the_answer(exported, tiny_data, variant,
                                                            keras_probabilities):
    probabilities = LiteRTPredictor(exported[variant])(tiny_data.x_test)
    agreement = np.mean(probabilities.argmax(axis=1) == keras_probabilities.argmax(axis=1))
    assert agreement >= 0.97, f"{variant}: top-1 agreement {agreement:.1%}"


def test_sizes_shrink_from_fp32_to_fp16_to_int8(exported):
    size = {variant: path.stat().st_size for variant, path in exported.items()}
    assert size["int8-dynamic"] < size["fp16"] < size["fp32"]
    assert size["int8-full"] < size["fp16"]


def test_an_unknown_variant_is_refused(trained_model, tmp_path):
    with pytest.raises(ValueError, match="Unknown TFLite variant 'int4'; expected one of fp32"):
        export_tflite(trained_model, tmp_path / "x.tflite", "int4")


def test_full_integer_needs_representative_images(trained_model, tmp_path):
    with pytest.raises(ValueError, match="int8-full needs representative images"):
        export_tflite(trained_model, tmp_path / "x.tflite", "int8-full")
    assert not (tmp_path / "x.tflite").exists()


# --- LiteRTPredictor ------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 7, 300])
def test_litert_predictor_matches_keras_at_any_batch_size(fp32_predictor, trained_model, tiny_data,
                                                          count):
    """300 images cross the 256-image chunk: both chunks must come back in order."""
    images = tiny_data.x_train[:count]
    expected = np.asarray(trained_model(images, training=False))
    np.testing.assert_allclose(fp32_predictor(images), expected, atol=FP32_TOLERANCE)


def test_litert_predictor_of_no_images_is_empty(fp32_predictor):
    assert fp32_predictor(np.zeros((0, 28, 28, 1))).shape == (0, 10)


@pytest.mark.parametrize("shape", [(28, 28, 1), (5, 28, 28), (5, 32, 32, 1), (5, 784)])
def test_litert_predictor_refuses_the_wrong_shape(fp32_predictor, shape):
    with pytest.raises(ValueError, match=r"Expected images of shape \(N, 28, 28, 1\), got"):
        fp32_predictor(np.zeros(shape, dtype=np.float32))


def test_litert_predictor_accepts_other_number_types(fp32_predictor, tiny_data,
                                                     keras_probabilities):
    images = tiny_data.x_test[:3]
    np.testing.assert_allclose(fp32_predictor(images.astype(np.float64)),
                               keras_probabilities[:3], atol=FP32_TOLERANCE)
    np.testing.assert_allclose(fp32_predictor(images.tolist()), keras_probabilities[:3],
                               atol=FP32_TOLERANCE)


def test_litert_predictor_keeps_a_few_batch_sizes_and_stays_right(exported, tiny_data,
                                                                  keras_probabilities):
    predictor = LiteRTPredictor(exported["fp32"])
    for count in (1, 2, 3, 4, 5, 6, 200, 2):
        np.testing.assert_allclose(predictor(tiny_data.x_test[:count]),
                                   keras_probabilities[:count], atol=FP32_TOLERANCE)
    assert len(predictor._slots) <= CACHED_BATCH_SIZES
    assert 1 in predictor._slots


def test_litert_predictor_is_safe_to_share_between_threads(fp32_predictor, tiny_data,
                                                           keras_probabilities):
    """Streamlit serves sessions on several threads that all share one cached predictor."""
    failures = []

    def work(count: int) -> None:
        for _ in range(30):
            got = fp32_predictor(tiny_data.x_test[:count])
            if not np.allclose(got, keras_probabilities[:count], atol=FP32_TOLERANCE):
                failures.append(count)

    threads = [threading.Thread(target=work, args=(count,)) for count in (1, 1, 7, 200, 3, 64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_litert_predictor_loads_the_keras_model_only_when_asked(exported, saved_model,
                                                                tiny_data, keras_probabilities):
    predictor = LiteRTPredictor(exported["fp32"], keras_path=saved_model)
    assert predictor._model is None
    model = predictor.model
    assert predictor.model is model
    np.testing.assert_allclose(np.asarray(model(tiny_data.x_test[:4], training=False)),
                               keras_probabilities[:4], atol=1e-6)


def test_litert_predictor_refuses_a_missing_or_broken_file(tmp_path):
    with pytest.raises(ValueError, match="No TFLite file at"):
        LiteRTPredictor(tmp_path / "gone.tflite")
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a flatbuffer")
    with pytest.raises(ValueError, match="is not a readable TFLite model"):
        LiteRTPredictor(broken)


# --- write_fast_model and predictor_for -----------------------------------------------------


@pytest.fixture
def run_folder_model(trained_model, tmp_path):
    path = tmp_path / "model.keras"
    trained_model.save(path)
    return path


def test_write_fast_model_writes_a_checked_tflite_and_its_record(trained_model, run_folder_model,
                                                                  tiny_data):
    metrics = write_fast_model(trained_model, run_folder_model, tiny_data.x_test)
    fast = run_folder_model.with_name(FAST_MODEL_NAME)
    assert metrics["tflite_bytes"] == fast.stat().st_size
    assert 0 < metrics["latency_ms"] < 1000
    assert metrics["tflite_max_abs_diff"] <= FP32_TOLERANCE
    record = json.loads(run_folder_model.with_name("model.tflite.json").read_text())
    assert record["source"] == "model.keras" and len(record["source_sha256"]) == 64
    assert fast_model_path(run_folder_model) == fast


def test_predictor_for_picks_litert_when_the_tflite_matches(trained_model, run_folder_model,
                                                            tiny_data, keras_probabilities):
    assert isinstance(predictor_for(run_folder_model), Predictor)  # nothing converted yet
    write_fast_model(trained_model, run_folder_model)
    predictor = predictor_for(run_folder_model)
    assert isinstance(predictor, LiteRTPredictor)
    np.testing.assert_allclose(predictor(tiny_data.x_test), keras_probabilities,
                               atol=FP32_TOLERANCE)
    assert predictor.model.count_params() == trained_model.count_params()


def test_predictor_for_ignores_a_tflite_of_another_model(trained_model, run_folder_model):
    """Regression guard: a model.keras replaced after conversion must not get the old file."""
    write_fast_model(trained_model, run_folder_model)
    other = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    other.save(run_folder_model)
    assert fast_model_path(run_folder_model) is None
    predictor = predictor_for(run_folder_model)
    assert isinstance(predictor, Predictor)
    assert predictor.model.count_params() == other.count_params()


def test_predictor_for_converts_a_run_made_before_tflite(run_folder_model, tiny_data,
                                                         keras_probabilities):
    predictor = predictor_for(run_folder_model, convert_missing=True)
    assert isinstance(predictor, LiteRTPredictor)
    assert fast_model_path(run_folder_model) is not None
    np.testing.assert_allclose(predictor(tiny_data.x_test), keras_probabilities,
                               atol=FP32_TOLERANCE)


def test_predictor_for_falls_back_to_keras_when_conversion_fails(run_folder_model, monkeypatch):
    def failing(*arguments, **keywords):
        raise RuntimeError("converter exploded")

    monkeypatch.setattr(export, "export_tflite", failing)
    assert isinstance(predictor_for(run_folder_model, convert_missing=True), Predictor)
    assert fast_model_path(run_folder_model) is None


# --- export_run -----------------------------------------------------------------------------


@pytest.fixture
def finished_run(store, trained_model):
    """A run in the store marked done with the tiny model as its model.keras."""
    run_id = store.create_run("mnist-5k", {}, {})
    model_path = store.run_folder(run_id) / "model.keras"
    trained_model.save(model_path)
    store.update_run(run_id, status="done", model_path=str(model_path))
    return store.get_run(run_id)


def test_export_run_writes_every_file_and_a_row_each(store, finished_run, tiny_data):
    progress = []
    rows = export_run(store, finished_run, tiny_data, repeats=50,
                      on_progress=lambda fraction, text: progress.append(fraction))
    assert [row["variant"] for row in rows] == ["keras", *VARIANTS]
    folder = store.run_folder(finished_run["id"]) / "exports"
    for row in rows:
        assert row["error"] is None, row["error"]
        assert row["bytes"] == os.path.getsize(row["path"])
        assert 0.0 <= row["test_accuracy"] <= 1.0
        assert 0 < row["p50_ms"] <= row["p95_ms"]
        assert row["images_per_second"] > 0
        assert row["top1_agreement"] >= 0.97
    assert {path.name for path in folder.glob("*.tflite")} == {
        f"model-{variant}.tflite" for variant in TFLITE_VARIANTS}
    assert (folder / "model.onnx").is_file()
    onnx = next(row for row in rows if row["variant"] == "onnx")
    assert onnx["top1_agreement"] >= 0.999 and onnx["max_abs_diff"] < 1e-4
    by_variant = {row["variant"]: row for row in rows}
    assert by_variant["keras"]["size_vs_keras"] == 1.0
    assert by_variant["fp32"]["max_abs_diff"] <= FP32_TOLERANCE
    assert by_variant["fp32"]["accuracy_delta"] == 0.0
    assert by_variant["int8-dynamic"]["size_vs_keras"] < by_variant["fp32"]["size_vs_keras"]
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress)
    document = load_measurements(store, finished_run["id"])
    assert document["rows"] == json.loads(json.dumps(rows))
    assert document["run_id"] == finished_run["id"] and document["measured_at"]
    assert document["method"]["repeats"] == 50 and document["method"]["test_images"] == 200


def test_export_run_reports_a_failing_variant_and_keeps_the_others(store, finished_run,
                                                                   tiny_data, monkeypatch):
    real_export = export.export_tflite

    def failing_fp16(model, path, variant, representative=None):
        if variant == "fp16":
            raise RuntimeError("fp16 converter exploded")
        return real_export(model, path, variant, representative)

    monkeypatch.setattr(export, "export_tflite", failing_fp16)
    rows = export_run(store, finished_run, tiny_data, variants=("fp32", "fp16"), repeats=20)
    assert [row["variant"] for row in rows] == ["keras", "fp32", "fp16"]
    assert rows[1]["error"] is None
    assert rows[2]["error"] == "RuntimeError: fp16 converter exploded"
    assert rows[2]["bytes"] is None and rows[2]["size_vs_keras"] is None


def test_export_run_refuses_unknown_variants_and_a_mismatched_dataset(store, finished_run,
                                                                      tiny_data):
    with pytest.raises(ValueError, match=r"Unknown variants \['int4'\]"):
        export_run(store, finished_run, tiny_data, variants=("int4",))
    three_classes = dataclasses.replace(tiny_data, class_names=("a", "b", "c"))
    with pytest.raises(ValueError, match="expects .* and 10 classes; mnist-5k has .* and 3"):
        export_run(store, finished_run, three_classes, variants=("fp32",))


def test_load_measurements_of_an_unmeasured_run_is_none(store, finished_run):
    assert load_measurements(store, finished_run["id"]) is None
