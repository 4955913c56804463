"""lepton.pruning: magnitude masks, schedules, the spec, the fine-tuning run's settings, and one
tiny pruned run end to end (in-process) from conftest's finished_run."""

import math
from pathlib import Path

import numpy as np
import pytest

from lepton.jobs import execute_run
from lepton.pruning import (
    HISTOGRAM_BINS,
    PruneSpec,
    keep_masks,
    measured_sparsity,
    prunable_layers,
    prune_config,
    pruned_children,
    pruning_figures,
    sparsity_at,
    start_pruning,
)
from lepton.training import TrainConfig
from tests.conftest import SMALL_MODEL


def pruned_count(masks) -> int:
    return sum(int(np.sum(~mask)) for mask in masks)


def kernels_of(model) -> dict[str, np.ndarray]:
    return {layer.name: np.asarray(layer.kernel) for layer in prunable_layers(model)}


class RefusingJobs:
    """A JobManager stand-in: a refused pruning must never reach `start`."""

    def start(self, *args, **kwargs):
        raise AssertionError("start_pruning started a run it should have refused")


# --- keep_masks -----------------------------------------------------------------------------


def test_global_masks_prune_exactly_the_share_of_smallest_weights_across_layers():
    rng = np.random.default_rng(0)

    def signed(low, high, shape):
        return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)

    small = signed(0.0, 0.01, (3, 3, 1, 4))  # 36 tiny weights: all of them go
    medium = signed(0.1, 1.0, (100, 10))     # 1000
    large = signed(50.0, 100.0, (10, 5))     # 50 huge weights: none of them go
    kernels = [small, medium, large]
    masks = keep_masks(kernels, 0.8, "global")

    assert [mask.shape for mask in masks] == [kernel.shape for kernel in kernels]
    assert all(mask.dtype == bool for mask in masks)
    total = 36 + 1000 + 50
    assert pruned_count(masks) == round(0.8 * total) == 869
    pruned = np.concatenate([np.abs(k)[~m] for k, m in zip(kernels, masks)])
    kept = np.concatenate([np.abs(k)[m] for k, m in zip(kernels, masks)])
    assert pruned.max() <= kept.min()  # the smallest magnitudes, wherever they are
    # One threshold over all layers: a layer loses more or fewer than its share.
    assert [int(np.sum(~mask)) for mask in masks] == [36, 833, 0]


def test_global_masks_go_by_magnitude_not_sign():
    kernel = np.array([[-5.0, 0.1], [-0.2, 3.0]])
    (mask,) = keep_masks([kernel], 0.5, "global")
    assert mask.tolist() == [[True, False], [False, True]]


def test_global_masks_are_exact_with_ties():
    kernels = [np.ones((10, 10)), np.ones((7,)), np.full((3, 3), -1.0)]  # 116 equal magnitudes
    masks = keep_masks(kernels, 0.8, "global")
    assert pruned_count(masks) == round(0.8 * 116) == 93  # a threshold would prune all 116


def test_global_masks_with_ties_at_the_threshold_prune_exactly():
    kernel = np.array([0.1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.9, 1.0])
    (mask,) = keep_masks([kernel], 0.5, "global")
    assert int(np.sum(~mask)) == 5
    assert not mask[0] and mask[8] and mask[9]  # the smallest goes, the largest stay
    assert int(np.sum(~mask[1:8])) == 4  # four of the seven tied weights


def test_layer_masks_prune_each_kernel_to_the_share():
    rng = np.random.default_rng(1)
    kernels = [rng.normal(0, 0.01, (3, 3, 1, 8)), rng.normal(0, 1.0, (200, 16)),
               rng.normal(0, 100.0, (16, 10))]
    masks = keep_masks(kernels, 0.8, "layer")
    assert [int(np.sum(~mask)) for mask in masks] == [round(0.8 * 72), round(0.8 * 3200),
                                                      round(0.8 * 160)] == [58, 2560, 128]
    for kernel, mask in zip(kernels, masks):
        assert np.abs(kernel)[~mask].max() <= np.abs(kernel)[mask].min()


def test_layer_masks_are_exact_with_ties():
    masks = keep_masks([np.ones((5, 4)), np.zeros((10,))], 0.5, "layer")
    assert [int(np.sum(~mask)) for mask in masks] == [10, 5]


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_sparsity_zero_keeps_every_weight(scope):
    kernels = [np.zeros((3, 3)), np.arange(12.0).reshape(3, 4)]
    masks = keep_masks(kernels, 0.0, scope)
    assert [mask.shape for mask in masks] == [(3, 3), (3, 4)]
    assert all(mask.all() for mask in masks)


def test_a_share_that_rounds_to_nothing_keeps_every_weight():
    (mask,) = keep_masks([np.arange(1.0, 5.0)], 0.1, "global")  # round(0.4) = 0
    assert mask.all()


# --- sparsity_at ----------------------------------------------------------------------------


@pytest.mark.parametrize("progress", [0.0, 0.1, 0.5, 0.75, 1.0])
def test_one_shot_is_the_target_at_every_progress(progress):
    assert sparsity_at(progress, 0.8, "one-shot") == 0.8


def test_gradual_starts_at_zero_rises_monotonically_and_reaches_the_target_by_three_quarters():
    progress = np.linspace(0, 1, 401)
    values = [sparsity_at(float(point), 0.8, "gradual") for point in progress]
    assert values[0] == 0.0
    assert all(later >= earlier for earlier, later in zip(values, values[1:]))
    assert all(value < 0.8 for point, value in zip(progress, values) if point < 0.75)
    assert sparsity_at(0.75, 0.8, "gradual") == pytest.approx(0.8, abs=1e-12)
    assert all(value == pytest.approx(0.8, abs=1e-12)
               for point, value in zip(progress, values) if point >= 0.75)
    # The cubic (Zhu & Gupta 2017): half-way to 0.75 it has 7/8 of the target.
    assert sparsity_at(0.375, 0.8, "gradual") == pytest.approx(0.8 * 7 / 8)
    assert sparsity_at(0.25, 0.9, "gradual") == pytest.approx(0.9 * (1 - (2 / 3) ** 3))


# --- PruneSpec ------------------------------------------------------------------------------


@pytest.mark.parametrize("sparsity", [0.0, 0.04, 0.995, 1.0, 1.5, -0.8])
def test_spec_refuses_a_sparsity_outside_the_range(sparsity):
    with pytest.raises(ValueError, match=r"0\.05\.\.0\.99") as error:
        PruneSpec(1, sparsity)
    assert str(sparsity) in str(error.value)


@pytest.mark.parametrize("epochs", [0, -1, 101])
def test_spec_refuses_epochs_outside_the_range(epochs):
    with pytest.raises(ValueError, match=r"1\.\.100") as error:
        PruneSpec(1, 0.8, epochs=epochs)
    assert f"got {epochs}" in str(error.value)


def test_spec_refuses_an_unknown_schedule_naming_the_known_ones():
    with pytest.raises(ValueError, match=r"\('gradual', 'one-shot'\), got 'cubic'"):
        PruneSpec(1, 0.8, schedule="cubic")


def test_spec_refuses_an_unknown_scope_naming_the_known_ones():
    with pytest.raises(ValueError, match=r"\('global', 'layer'\), got 'channel'"):
        PruneSpec(1, 0.8, scope="channel")


def test_spec_accepts_the_bounds_and_has_the_documented_defaults():
    PruneSpec(1, 0.05, epochs=1)
    PruneSpec(1, 0.99, epochs=100, schedule="one-shot", scope="layer")
    assert PruneSpec(7, 0.8).to_dict() == {"parent_run_id": 7, "sparsity": 0.8, "epochs": 3,
                                           "schedule": "gradual", "scope": "global"}


# --- prune_config ---------------------------------------------------------------------------


def test_prune_config_keeps_the_parents_settings_and_fine_tunes_slowly():
    parent_train = TrainConfig(learning_rate=0.002, batch_size=64, epochs=12, seed=3,
                               subset=600, augmentation="mild", schedule="cosine").to_dict()
    parent = {"id": 4, "train_config": parent_train}
    spec = PruneSpec(4, 0.9, epochs=2, schedule="one-shot", scope="layer")
    train = prune_config(parent, spec)

    assert train["epochs"] == 2
    assert train["schedule"] == "constant"
    assert train["learning_rate"] == pytest.approx(0.0002)
    assert train["prune"] == {"parent_run_id": 4, "sparsity": 0.9, "epochs": 2,
                              "schedule": "one-shot", "scope": "layer"}
    changed = {"epochs", "schedule", "learning_rate", "prune"}
    assert {key: value for key, value in train.items() if key not in changed} == \
        {key: value for key, value in parent_train.items() if key not in changed}
    assert parent["train_config"] == parent_train and "prune" not in parent_train  # untouched
    assert TrainConfig.from_dict(train).batch_size == 64  # still valid training settings


# --- prunable_layers and measured_sparsity --------------------------------------------------


def test_prunable_layers_are_the_conv2d_and_dense_layers():
    from lepton.model import build_model

    model = build_model(SMALL_MODEL)
    assert [layer.name for layer in prunable_layers(model)] == ["conv1", "dense", "output"]


def test_prunable_layers_are_found_inside_the_augmentation_wrapper():
    from lepton.model import build_model
    from lepton.training import training_model

    model = build_model(SMALL_MODEL)
    wrapped = training_model(model, TrainConfig(augmentation="mild"))
    assert wrapped is not model and model in wrapped.layers
    found = prunable_layers(wrapped)
    assert [layer.name for layer in found] == ["conv1", "dense", "output"]
    assert all(a is b for a, b in zip(found, prunable_layers(model)))


def test_measured_sparsity_counts_exact_zeros_of_the_kernels_only():
    from lepton.model import build_model

    model = build_model(SMALL_MODEL)
    layers = prunable_layers(model)
    total = sum(int(np.prod(layer.kernel.shape)) for layer in layers)
    dense = next(layer for layer in layers if layer.name == "dense")
    kernel = np.asarray(dense.kernel).copy()
    kernel.reshape(-1)[:1000] = 0.0
    dense.kernel.assign(kernel)
    dense.bias.assign(np.zeros(dense.bias.shape))  # biases do not count
    assert measured_sparsity(model) == pytest.approx(1000 / total)


# --- start_pruning refusals -----------------------------------------------------------------


def test_start_pruning_refuses_a_run_without_a_model(store):
    run_id = store.create_run("mnist-5k", SMALL_MODEL.to_dict(), TrainConfig().to_dict())
    store.update_run(run_id, status="failed", reason="loss became NaN")
    with pytest.raises(ValueError, match=f"Run {run_id} is failed and has no model to prune"):
        start_pruning(RefusingJobs(), store.get_run(run_id), PruneSpec(run_id, 0.8))


def test_start_pruning_refuses_a_run_that_is_itself_pruned(finished_run, store):
    parent = finished_run
    child_id = store.create_run(parent["dataset"], parent["model_config"],
                                prune_config(parent, PruneSpec(parent["id"], 0.8, epochs=1)))
    store.update_run(child_id, status="done", model_path=parent["model_path"],
                     metrics={"sparsity": 0.8})
    child = store.get_run(child_id)
    with pytest.raises(ValueError, match=f"Run {child_id} is already a pruned run; prune its "
                                         f"parent {parent['id']} instead"):
        start_pruning(RefusingJobs(), child, PruneSpec(child_id, 0.5))


def test_a_pruned_run_whose_parent_has_no_model_ends_failed(store):
    parent_id = store.create_run("mnist-5k", SMALL_MODEL.to_dict(), TrainConfig().to_dict())
    parent = store.get_run(parent_id)
    child_id = store.create_run("mnist-5k", SMALL_MODEL.to_dict(),
                                prune_config(parent, PruneSpec(parent_id, 0.8, epochs=1)))
    run = execute_run(store, child_id)
    assert run["status"] == "failed"
    assert f"Run {parent_id} has no model to prune" in run["reason"]


# --- one tiny pruned run, in-process --------------------------------------------------------


def prune_in_process(store, parent: dict, spec: PruneSpec) -> dict:
    child_id = store.create_run(parent["dataset"], parent["model_config"],
                                {**prune_config(parent, spec)})
    return execute_run(store, child_id)


def test_a_pruned_run_of_a_finished_run_is_sparse_smaller_and_linked(finished_run, store):
    from lepton.inference import load_model

    parent = finished_run
    parent_kernels = kernels_of(load_model(parent["model_path"]))
    run = prune_in_process(store, parent, PruneSpec(parent["id"], 0.8, epochs=1))
    assert run["status"] == "done", run["reason"]
    metrics = run["metrics"]

    model = load_model(run["model_path"])
    kernels = kernels_of(model)
    total = sum(kernel.size for kernel in kernels.values())
    zeros = sum(int(np.sum(kernel == 0)) for kernel in kernels.values())
    assert total == sum(kernel.size for kernel in parent_kernels.values()) == 21864
    # The saved model really holds the zeros: global ranks prune round(0.8 * total) exactly.
    assert zeros == round(0.8 * total)
    assert metrics["sparsity"] == pytest.approx(0.8, abs=0.005)
    assert metrics["sparsity"] == measured_sparsity(model) == zeros / total

    assert metrics["parent_run_id"] == parent["id"]
    assert metrics["pruning"] == PruneSpec(parent["id"], 0.8, epochs=1).to_dict()
    assert run["train_config"]["prune"]["parent_run_id"] == parent["id"]
    assert run["train_config"]["epochs"] == 1
    assert run["train_config"]["learning_rate"] == pytest.approx(1e-4)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["test_samples"] == 1000
    assert metrics["parent_test_accuracy"] == 0.1
    assert metrics["gzip_bytes"] < metrics["parent_gzip_bytes"]
    assert metrics["weights_gzip_bytes"] < metrics["parent_weights_gzip_bytes"]
    assert metrics["int8_gzip_bytes"] < metrics["gzip_bytes"]
    assert metrics["int8_gzip_bytes"] < metrics["parent_int8_gzip_bytes"]
    assert 0.0 <= metrics["int8_test_accuracy"] <= 1.0
    assert metrics["latency_ms"] > 0

    histograms = metrics["weight_histograms"]
    assert len(histograms["edges"]) == HISTOGRAM_BINS + 1
    assert len(histograms["parent"]) == len(histograms["pruned"]) == HISTOGRAM_BINS
    assert sum(histograms["parent"]) == total
    assert histograms["pruned_zeros"] == zeros
    assert sum(histograms["pruned"]) == total  # a weight fine-tuning pushed far still counts
    limit = max(float(np.abs(kernel).max())
                for kernel in (*parent_kernels.values(), *kernels.values()))
    assert histograms["edges"][0] == pytest.approx(-limit)
    assert histograms["edges"][-1] == pytest.approx(limit)

    folder = Path(run["model_path"]).parent
    assert (folder / "model.tflite").is_file() and (folder / "model-int8-dynamic.tflite").is_file()
    assert pruned_children(store.list_runs(), parent["id"])[0]["id"] == run["id"]
    assert pruned_children(store.list_runs(), run["id"]) == []


def test_one_shot_per_layer_pruning_zeroes_each_layer_to_the_share(finished_run, store):
    from lepton.inference import load_model

    run = prune_in_process(store, finished_run, PruneSpec(finished_run["id"], 0.8, epochs=1,
                                                          schedule="one-shot", scope="layer"))
    assert run["status"] == "done", run["reason"]
    kernels = kernels_of(load_model(run["model_path"]))
    assert set(kernels) == {"conv1", "dense", "output"}
    for name, kernel in kernels.items():
        assert int(np.sum(kernel == 0)) == round(0.8 * kernel.size), name
    assert run["metrics"]["sparsity"] == pytest.approx(0.8, abs=0.005)


def test_the_pruned_histogram_counts_every_kernel_weight(finished_run, store, tiny_data):
    from lepton.export import export_tflite
    from lepton.inference import load_model

    parent = finished_run
    spec = PruneSpec(parent["id"], 0.8, epochs=1)
    model = load_model(parent["model_path"])
    layers = prunable_layers(model)
    limit = max(float(np.abs(np.asarray(layer.kernel)).max()) for layer in layers)
    for layer, mask in zip(layers, keep_masks([np.asarray(layer.kernel) for layer in layers],
                                              0.8, "global")):
        layer.kernel.assign(np.asarray(layer.kernel) * mask)
    dense = next(layer for layer in layers if layer.name == "dense")
    kernel = np.asarray(dense.kernel).copy()
    kept = np.flatnonzero(kernel)
    kernel.reshape(-1)[kept[:3]] = 1.5 * limit  # fine-tuning grew three weights past the parent
    dense.kernel.assign(kernel)

    child_id = store.create_run(parent["dataset"], parent["model_config"],
                                prune_config(parent, spec))
    model_path = store.run_folder(child_id) / "model.keras"
    model.save(model_path)
    export_tflite(model, model_path.with_name("model.tflite"), "fp32")
    figures = pruning_figures(store, spec.to_dict(), model, model_path, tiny_data)
    total = sum(int(np.prod(layer.kernel.shape)) for layer in layers)
    assert sum(figures["weight_histograms"]["parent"]) == total
    assert sum(figures["weight_histograms"]["pruned"]) == total


def test_kernel_sizes_of_the_small_model():
    """The figures above count on SMALL_MODEL's kernels: 3×3×1×8, 1352×16 and 16×10."""
    from lepton.model import build_model

    sizes = [int(np.prod(layer.kernel.shape)) for layer in prunable_layers(
        build_model(SMALL_MODEL))]
    assert sizes == [72, 21632, 160]
    assert math.isclose(round(0.8 * sum(sizes)) / sum(sizes), 0.79999, abs_tol=1e-4)


# --- make_callback and fit(start_from=...) --------------------------------------------------


def drive(callback, model, epochs: int, steps: int) -> list[float]:
    """Runs `callback` through a training of `epochs` × `steps` batches that changes no weight;
    the measured sparsity after the start and after each batch."""
    callback.set_model(model)
    callback.set_params({"epochs": epochs, "steps": steps, "verbose": 0})
    callback.on_train_begin()
    seen = [measured_sparsity(model)]
    for epoch in range(epochs):
        callback.on_epoch_begin(epoch)
        for batch in range(steps):
            callback.on_train_batch_end(batch)
            seen.append(measured_sparsity(model))
    callback.on_train_end()
    return seen


def small_model_total() -> int:
    return 72 + 21632 + 160


def test_the_one_shot_callback_prunes_to_the_target_before_the_first_step():
    from lepton.model import build_model
    from lepton.pruning import make_callback

    model = build_model(SMALL_MODEL)
    seen = drive(make_callback(PruneSpec(1, 0.8, schedule="one-shot")), model, 2, 9)
    exact = round(0.8 * small_model_total()) / small_model_total()
    assert seen == [exact] * 19
    assert measured_sparsity(model) == exact


def test_the_gradual_callback_follows_the_cubic_step_by_step():
    from lepton.model import build_model
    from lepton.pruning import make_callback

    model = build_model(SMALL_MODEL)
    seen = drive(make_callback(PruneSpec(1, 0.8, epochs=2)), model, 2, 10)
    total = small_model_total()
    assert seen[0] == 0.0
    assert all(later >= earlier for earlier, later in zip(seen, seen[1:]))
    for step in (1, 5, 10):  # well before the target, where each step adds zeros
        assert seen[step] == round(sparsity_at(step / 20, 0.8, "gradual") * total) / total
    assert seen[-1] == pytest.approx(0.8, abs=2e-4)


@pytest.mark.parametrize(("target", "epochs", "steps"), [(0.8, 2, 9), (0.7, 2, 9)])
def test_the_gradual_callback_ends_exactly_at_the_target(target, epochs, steps):
    from lepton.model import build_model
    from lepton.pruning import make_callback

    model = build_model(SMALL_MODEL)
    drive(make_callback(PruneSpec(1, target, epochs=epochs)), model, epochs, steps)
    total = small_model_total()
    assert measured_sparsity(model) == round(target * total) / total


@pytest.mark.parametrize(("schedule", "scope", "steps_per_execution"),
                         [("one-shot", "global", 1), ("one-shot", "layer", 4),
                          ("gradual", "global", 1)])
def test_fine_tuning_with_the_callback_starts_from_the_parent_and_ends_exactly_sparse(
        tiny_model, tiny_data, schedule, scope, steps_per_execution):
    from lepton.pruning import make_callback
    from lepton.training import fit

    spec = PruneSpec(1, 0.7, epochs=2, schedule=schedule, scope=scope)
    config = TrainConfig(epochs=2, batch_size=64, learning_rate=1e-4,
                         steps_per_execution=steps_per_execution)
    parent = kernels_of(tiny_model)
    result = fit(SMALL_MODEL, config, tiny_data.x_train, tiny_data.y_train,
                 callbacks=(make_callback(spec),), start_from=tiny_model)
    assert result.status == "done", result.reason
    pruned = kernels_of(result.model)
    total = sum(kernel.size for kernel in pruned.values())
    if schedule == "gradual":  # exactly
        assert measured_sparsity(result.model) == pytest.approx(0.7, abs=2e-4)
    elif scope == "global":
        assert measured_sparsity(result.model) == round(0.7 * total) / total
    else:
        assert all(int(np.sum(kernel == 0)) == round(0.7 * kernel.size)
                   for kernel in pruned.values())
    # Fine-tuned from the parent, not from a fresh initialisation: the kept weights barely
    # moved, and they are the parent's largest.
    for name, kernel in pruned.items():
        kept = kernel != 0
        assert np.corrcoef(kernel[kept], parent[name][kept])[0, 1] > 0.99, name
        assert np.abs(kernel[kept] - parent[name][kept]).max() < 0.05, name
    assert np.abs(tiny_model.get_layer("dense").kernel).max() > 0  # the parent is untouched
    assert measured_sparsity(tiny_model) == 0.0
