"""lepton.model: the reference network, its layer table (params, MACs) and config validation."""

import json

import pytest

from lepton.model import ModelConfig, build_model, layer_table, model_size_bytes

REFERENCE_PARAMS = 225_034
# Three blocks of 2×2 kernels with average pooling: 28 → 27 → 13 → 12 → 6 → 5 → 2.
THREE_BLOCKS = ModelConfig(filters=(4, 8, 16), kernel_size=2, pooling="avg", dense_units=32)


@pytest.fixture(scope="module")
def reference_model():
    return build_model()


def _rows_by_name(model):
    return {row["name"]: row for row in layer_table(model)}


def test_default_config_is_the_reference_network(reference_model):
    layers = reference_model.layers
    assert [type(layer).__name__ for layer in layers] == [
        "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense",
    ]
    conv1, pool1, conv2, pool2, _, dense, output = layers
    assert (conv1.filters, conv2.filters) == (32, 64)
    assert conv1.kernel_size == conv2.kernel_size == (3, 3)
    assert pool1.pool_size == pool2.pool_size == (2, 2)
    assert dense.units == 128
    assert output.units == 10
    assert conv1.activation.__name__ == dense.activation.__name__ == "relu"
    assert output.activation.__name__ == "softmax"
    assert reference_model.input_shape == (None, 28, 28, 1)
    assert reference_model.count_params() == REFERENCE_PARAMS
    assert model_size_bytes(reference_model) == REFERENCE_PARAMS * 4


def test_reference_network_output_shapes(reference_model):
    shapes = {name: row["output_shape"] for name, row in _rows_by_name(reference_model).items()}
    assert shapes == {
        "conv1": (26, 26, 32), "pool1": (13, 13, 32), "conv2": (11, 11, 64),
        "pool2": (5, 5, 64), "flatten": (1600,), "dense": (128,), "output": (10,),
    }


def test_reference_network_macs_computed_by_hand(reference_model):
    macs = {name: row["macs"] for name, row in _rows_by_name(reference_model).items()}
    assert macs == {
        "conv1": 26 * 26 * 32 * 3 * 3 * 1,  # 194,688
        "pool1": 0,
        "conv2": 11 * 11 * 64 * 3 * 3 * 32,  # 2,230,272
        "pool2": 0,
        "flatten": 0,
        "dense": 1600 * 128,
        "output": 128 * 10,
    }
    assert macs["conv1"] == 194_688
    assert macs["conv2"] == 2_230_272


def test_three_block_network_macs_and_shapes_computed_by_hand():
    rows = _rows_by_name(build_model(THREE_BLOCKS))
    assert [row["type"] for row in rows.values()][:2] == ["Conv2D", "AveragePooling2D"]
    assert {name: row["output_shape"] for name, row in rows.items()} == {
        "conv1": (27, 27, 4), "pool1": (13, 13, 4), "conv2": (12, 12, 8), "pool2": (6, 6, 8),
        "conv3": (5, 5, 16), "pool3": (2, 2, 16), "flatten": (64,), "dense": (32,),
        "output": (10,),
    }
    assert {name: row["macs"] for name, row in rows.items()} == {
        "conv1": 27 * 27 * 4 * 2 * 2 * 1,
        "pool1": 0,
        "conv2": 12 * 12 * 8 * 2 * 2 * 4,
        "pool2": 0,
        "conv3": 5 * 5 * 16 * 2 * 2 * 8,
        "pool3": 0,
        "flatten": 0,
        "dense": 64 * 32,
        "output": 32 * 10,
    }


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(),
        THREE_BLOCKS,
        ModelConfig(filters=(16,), kernel_size=5, dense_units=64, dropout_rate=0.5,
                    activation="tanh", input_shape=(32, 32, 3), num_classes=4),
    ],
    ids=["reference", "three-blocks", "rgb-dropout"],
)
def test_layer_table_params_add_up_to_the_model(config):
    model = build_model(config)
    rows = layer_table(model)
    assert [row["name"] for row in rows] == [layer.name for layer in model.layers]
    assert sum(row["params"] for row in rows) == model.count_params()
    for row in rows:
        activations = 1
        for size in row["output_shape"]:
            activations *= size
        assert row["activations"] == activations


def test_rgb_input_builds_with_params_computed_by_hand():
    model = build_model(ModelConfig(input_shape=(32, 32, 3)))
    assert model.input_shape == (None, 32, 32, 3)
    assert model.output_shape == (None, 10)
    # 32 → 30 → 15 → 13 → 6: the dense layer sees 6 * 6 * 64 = 2304 values.
    conv1 = 3 * 3 * 3 * 32 + 32
    conv2 = 3 * 3 * 32 * 64 + 64
    dense = 2304 * 128 + 128
    output = 128 * 10 + 10
    assert model.count_params() == conv1 + conv2 + dense + output


def test_dropout_layer_only_when_rate_is_positive():
    without = [layer.name for layer in build_model(ModelConfig(dropout_rate=0.0)).layers]
    with_dropout = build_model(ModelConfig(dropout_rate=0.25)).layers
    assert "dropout" not in without
    names = [layer.name for layer in with_dropout]
    assert names[-2:] == ["dropout", "output"]
    assert with_dropout[-2].rate == 0.25


def test_output_layer_stays_float32_softmax(reference_model):
    output = reference_model.layers[-1]
    assert output.dtype_policy.compute_dtype == "float32"


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"filters": ()}, r"Expected 1\.\.3 conv blocks, got 0\. Give one filter count per block"),
        ({"filters": (8, 16, 32, 64)}, r"Expected 1\.\.3 conv blocks, got 4"),
        ({"filters": (0,)}, r"filters in 1\.\.512 per block, got 0"),
        ({"kernel_size": 8}, r"kernel_size in 1\.\.7, got 8\. Use a smaller kernel"),
        ({"kernel_size": 0}, r"kernel_size in 1\.\.7, got 0"),
        ({"pooling": "min"}, r"pooling in \('max', 'avg'\), got 'min'"),
        ({"activation": "gelu"}, r"activation in \('relu', 'sigmoid', 'tanh'\), got 'gelu'"),
        ({"dense_units": 0}, r"dense_units in 1\.\.4096, got 0"),
        ({"dropout_rate": 1.0}, r"dropout_rate in \[0, 1\), got 1\.0"),
        ({"dropout_rate": -0.1}, r"dropout_rate in \[0, 1\), got -0\.1"),
        ({"input_shape": (28, 28)}, r"input_shape \(height, width, channels\), got \(28, 28\)"),
        ({"input_shape": (28, 28, 2)}, r"1 or 3 input channels, got 2"),
        ({"num_classes": 1}, r"at least 2 classes, got 1"),
    ],
)
def test_invalid_configs_are_refused_with_a_clear_message(values, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**values)


def test_too_many_blocks_for_the_input_says_how_to_fix():
    with pytest.raises(ValueError) as raised:
        ModelConfig(filters=(8, 8, 8), kernel_size=7)
    message = str(raised.value)
    assert "3 conv blocks with kernel_size 7" in message
    assert "28×28" in message
    assert "after block 3" in message
    assert "Use fewer blocks or a smaller kernel" in message


def test_largest_network_that_fits_builds():
    """Two 7×7 blocks fit a 28×28 input (28 → 22 → 11 → 5 → 2): they must be accepted."""
    model = build_model(ModelConfig(filters=(8, 8), kernel_size=7))
    assert _rows_by_name(model)["pool2"]["output_shape"] == (2, 2, 8)


# --- serialisation --------------------------------------------------------------------------


def test_to_dict_from_dict_round_trip():
    config = ModelConfig(filters=(16, 32, 64), kernel_size=3, pooling="avg", dense_units=256,
                         dropout_rate=0.3, activation="sigmoid", input_shape=(32, 32, 3),
                         num_classes=4)
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_from_dict_accepts_json_lists_and_ignores_unknown_keys():
    """Configs come back from the run store as JSON: tuples are lists there."""
    values = json.loads(json.dumps({**THREE_BLOCKS.to_dict(), "legacy_field": 1}))
    restored = ModelConfig.from_dict(values)
    assert restored == THREE_BLOCKS
    assert restored.filters == (4, 8, 16)
    assert restored.input_shape == (28, 28, 1)
    assert restored.conv_blocks == 3
