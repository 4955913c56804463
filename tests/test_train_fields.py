"""lepton.train_fields: the Train page's fields, and the configs their values describe."""

import pytest

from lepton.model import FILTER_CHOICES, ModelConfig
from lepton.querystate import Choice, Number
from lepton.train_fields import (
    configs_from_values,
    default_values,
    train_fields,
    values_from_configs,
)
from lepton.training import TrainConfig

FIELDS = train_fields(TrainConfig())
CALIBRATED = TrainConfig(learning_rate=5e-4, batch_size=48, steps_per_execution=3, epochs=7,
                         subset=2000, threads=2, validation_split=0.2)


def test_the_fields_are_the_train_page_settings_in_order():
    assert list(FIELDS) == [
        "subset", "validation", "seed", "blocks", "filters1", "filters2", "filters3", "kernel",
        "pooling", "dense", "dropout", "activation", "optimizer", "lr", "batch", "epochs",
        "precision", "steps_per_execution", "threads", "augmentation", "schedule"]


def test_every_field_is_a_choice_or_a_number():
    assert all(isinstance(field, (Choice, Number)) for field in FIELDS.values())


def test_the_defaults_come_from_the_train_config_and_the_reference_model():
    defaults = default_values(FIELDS)
    assert defaults == {
        "subset": 0, "validation": 0.1, "seed": 0, "blocks": 2, "filters1": 32,
        "filters2": 64, "filters3": 64, "kernel": 3, "pooling": "max", "dense": 128,
        "dropout": 0.0, "activation": "relu", "optimizer": "adam", "lr": 0.001, "batch": 32,
        "epochs": 5, "precision": "float32", "steps_per_execution": 1, "threads": 0,
        "augmentation": "none", "schedule": "constant"}


@pytest.mark.parametrize("default", [TrainConfig(), CALIBRATED], ids=["article", "calibrated"])
def test_every_choice_default_is_among_its_options(default):
    fields = train_fields(default)
    for name, field in fields.items():
        if isinstance(field, Choice):
            assert field.default in field.options, name


@pytest.mark.parametrize("default", [TrainConfig(), CALIBRATED], ids=["article", "calibrated"])
def test_every_number_default_is_within_its_bounds(default):
    fields = train_fields(default)
    for name, field in fields.items():
        if isinstance(field, Number):
            assert field.low <= field.default <= field.high, name


def test_a_calibrated_default_joins_the_offered_values_in_order():
    fields = train_fields(CALIBRATED)
    assert fields["lr"].options == (1e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 4e-3, 1e-2, 3e-2, 0.1,
                                    1.0, 10.0)
    assert fields["batch"].options == (16, 32, 48, 64, 128, 256, 512)
    assert fields["steps_per_execution"].options == (1, 2, 3, 4, 8, 16, 32, 64)
    assert (fields["lr"].default, fields["batch"].default) == (5e-4, 48)
    assert (fields["subset"].default, fields["epochs"].default) == (2000, 7)


def test_a_round_default_is_not_offered_twice():
    assert FIELDS["batch"].options == (16, 32, 64, 128, 256, 512)


def test_every_filter_field_offers_the_model_filter_choices():
    for name in ("filters1", "filters2", "filters3"):
        assert FIELDS[name].options == FILTER_CHOICES


def test_the_default_values_build_the_default_configs():
    model_config, train_config = configs_from_values(default_values(FIELDS))
    assert model_config == ModelConfig()
    assert train_config == TrainConfig()


def test_the_default_values_round_trip_except_the_unused_third_filter_count():
    defaults = default_values(FIELDS)
    values = values_from_configs(*configs_from_values(defaults))
    assert values == {name: value for name, value in defaults.items() if name != "filters3"}


def test_a_three_block_setup_round_trips():
    values = {**default_values(FIELDS), "blocks": 3, "filters1": 16, "filters2": 32,
              "filters3": 128, "kernel": 2, "pooling": "avg", "dense": 256, "dropout": 0.25,
              "activation": "tanh", "optimizer": "sgd", "lr": 0.003, "batch": 64,
              "epochs": 12, "subset": 5000, "validation": 0.15, "seed": 7,
              "precision": "mixed_bfloat16", "steps_per_execution": 8, "threads": 2,
              "augmentation": "mild", "schedule": "cosine"}
    model_config, train_config = configs_from_values(values)
    assert model_config.filters == (16, 32, 128)
    assert train_config.subset == 5000
    assert values_from_configs(model_config, train_config) == values


def test_a_calibrated_train_config_round_trips_through_its_values():
    model_config = ModelConfig(filters=(8,), dense_units=16)
    values = values_from_configs(model_config, CALIBRATED)
    assert configs_from_values(values) == (model_config, CALIBRATED)


def test_a_subset_of_zero_means_every_training_sample():
    _, train_config = configs_from_values(default_values(FIELDS))
    assert train_config.subset is None
    assert values_from_configs(ModelConfig(), train_config)["subset"] == 0


def test_the_filter_counts_of_blocks_past_the_block_count_are_ignored():
    values = {**default_values(FIELDS), "blocks": 1, "filters1": 8, "filters2": 128}
    model_config, _ = configs_from_values(values)
    assert model_config.filters == (8,)


def test_the_input_shape_and_classes_reach_the_model_config():
    model_config, _ = configs_from_values(default_values(FIELDS), (32, 32, 3), 100)
    assert (model_config.input_shape, model_config.num_classes) == ((32, 32, 3), 100)


@pytest.mark.parametrize("name, value, match", [
    ("pooling", "median", "Expected pooling in"),
    ("lr", 0.0, "Expected learning_rate in"),
    ("epochs", 0, "Expected epochs in 1..500"),
    ("optimizer", "lbfgs", "Expected optimizer in"),
    ("blocks", 0, "Expected 1..3 conv blocks"),
    ("batch", "many", "invalid literal for int"),
])
def test_a_bad_value_raises_value_error(name, value, match):
    with pytest.raises(ValueError, match=match):
        configs_from_values({**default_values(FIELDS), name: value})


def test_a_setup_that_shrinks_the_input_to_nothing_raises_value_error():
    values = {**default_values(FIELDS), "blocks": 3, "kernel": 7}
    with pytest.raises(ValueError, match="shrink a 28×28 input to nothing"):
        configs_from_values(values)


def test_too_many_blocks_raise_value_error():
    with pytest.raises(ValueError, match="conv blocks"):
        configs_from_values({**default_values(FIELDS), "blocks": 4})
