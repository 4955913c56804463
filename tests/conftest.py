"""Shared fixtures: an isolated LEPTON_HOME, its run store, tiny mnist-5k, a small model."""

import dataclasses

import pytest

from lepton.data import load_dataset, stratified_subset
from lepton.model import ModelConfig
from lepton.registry import RunStore

# Architecture does not matter for most tests: a one-block CNN trains in about a second.
SMALL_MODEL = ModelConfig(filters=(8,), dense_units=16)


@pytest.fixture
def lepton_home(tmp_path, monkeypatch):
    home = tmp_path / "lepton_home"
    monkeypatch.setenv("LEPTON_HOME", str(home))
    return home


@pytest.fixture
def store(lepton_home):
    return RunStore(lepton_home)


@pytest.fixture(scope="session")
def tiny_data():
    """mnist-5k cut to 600 train / 200 test samples (stratified)."""
    dataset = load_dataset("mnist-5k", subset=600)
    x_test, y_test = stratified_subset(dataset.x_test, dataset.y_test, 200)
    return dataclasses.replace(dataset, x_test=x_test, y_test=y_test)


@pytest.fixture(scope="session")
def tiny_model(tiny_data):
    """SMALL_MODEL trained one epoch on `tiny_data`, shared by evaluation and inference tests."""
    from lepton.training import TrainConfig, fit

    result = fit(SMALL_MODEL, TrainConfig(epochs=1, batch_size=64), tiny_data.x_train,
                 tiny_data.y_train)
    assert result.status == "done", result.reason
    return result.model


@pytest.fixture
def empty_keras_home(tmp_path, monkeypatch):
    """Points Keras' dataset cache at an empty folder, so full MNIST must be downloaded."""
    import keras.src.backend.config as keras_config

    keras_home = tmp_path / "keras_home"
    keras_home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    # Keras reads KERAS_HOME once, at import: the environment variable alone does not reach it.
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(keras_home))
    return keras_home


@pytest.fixture
def finished_run(lepton_home):
    """A done run whose model.keras is SMALL_MODEL untrained, for pages that need no accuracy."""
    from lepton.model import build_model
    from lepton.training import TrainConfig

    store = RunStore(lepton_home)
    run_id = store.create_run("mnist-5k", SMALL_MODEL.to_dict(), TrainConfig().to_dict())
    model_path = store.run_folder(run_id) / "model.keras"
    build_model(SMALL_MODEL).save(model_path)
    store.update_run(run_id, status="done", model_path=str(model_path),
                     metrics={"test_accuracy": 0.1})
    return store.get_run(run_id)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.path):
            item.add_marker(pytest.mark.browser)
            # One xdist worker runs the whole browser suite, in order, on its one shared server.
            item.add_marker(pytest.mark.xdist_group("browser"))
        else:
            # A module's tests on one worker: its module-scoped fixtures (trained runs, killed
            # trainings) are then built once, not once per worker.
            module = item.path.relative_to(item.config.rootpath)
            item.add_marker(pytest.mark.xdist_group(str(module)))
