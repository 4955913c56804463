"""lepton.ops against the Keras layers it explains, plus the article's worked example."""

import itertools

import keras
import numpy as np
import pytest
from scipy import signal

from lepton import errata, ops

TOLERANCE = 1e-5
STRIDES = (1, 2, 3)
# (input shape, window shape): square and non-square inputs, windows from 1 to 4.
CONV_SHAPES = (((5, 5), (1, 1)), ((7, 6), (3, 3)), ((9, 8), (4, 2)), ((6, 9), (2, 4)))
POOL_SHAPES = (((5, 5), 2), ((7, 6), 3), ((9, 8), (4, 2)))
EXAMPLE_INPUT = np.array(errata.ARTICLE_EXAMPLE["input"], dtype=float)
EXAMPLE_KERNEL = np.array(errata.ARTICLE_EXAMPLE["kernel"], dtype=float)
EXAMPLE_SAME = [[6, 9, 8], [13, 20, 17], [12, 21, 14]]


def _random(shape, seed):
    return np.random.default_rng(seed).normal(size=shape)


def _run_on_image(layer, image):
    """Runs a Keras image layer on one single-channel image and returns the 2-D map."""
    batch = np.asarray(image, dtype="float32")[np.newaxis, :, :, np.newaxis]
    return np.asarray(layer(batch))[0, :, :, 0]


def _keras_conv(image, kernel, stride, padding, bias):
    layer = keras.layers.Conv2D(1, kernel.shape, strides=stride, padding=padding, use_bias=True)
    layer.build((None, *image.shape, 1))
    layer.set_weights([kernel[..., np.newaxis, np.newaxis], np.array([bias])])
    return _run_on_image(layer, image)


def _cases(shapes):
    for (input_shape, window), stride, padding in itertools.product(shapes, STRIDES, ops.PADDINGS):
        yield pytest.param(
            input_shape, window, stride, padding, id=f"{input_shape}-{window}-s{stride}-{padding}"
        )


# --- against Keras --------------------------------------------------------------------------


@pytest.mark.parametrize(("input_shape", "kernel_shape", "stride", "padding"), _cases(CONV_SHAPES))
def test_conv2d_matches_keras(input_shape, kernel_shape, stride, padding):
    seed = sum(input_shape) * 100 + sum(kernel_shape) * 10 + stride
    image, kernel = _random(input_shape, seed), _random(kernel_shape, seed + 1)
    bias = float(_random((), seed + 2))

    result = ops.conv2d(image, kernel, stride=stride, padding=padding, bias=bias)

    expected = _keras_conv(image, kernel, stride, padding, bias)
    np.testing.assert_allclose(result.output, expected, rtol=TOLERANCE, atol=TOLERANCE)


@pytest.mark.parametrize(("input_shape", "pool_size", "stride", "padding"), _cases(POOL_SHAPES))
@pytest.mark.parametrize(
    ("function", "layer_class"),
    [(ops.max_pool, keras.layers.MaxPooling2D), (ops.average_pool, keras.layers.AveragePooling2D)],
    ids=["max", "average"],
)
def test_pools_match_keras(function, layer_class, input_shape, pool_size, stride, padding):
    image = _random(input_shape, seed=sum(input_shape) + stride)

    result = function(image, pool_size, stride=stride, padding=padding)

    expected = _run_on_image(layer_class(pool_size, strides=stride, padding=padding), image)
    np.testing.assert_allclose(result.output, expected, rtol=TOLERANCE, atol=TOLERANCE)


@pytest.mark.parametrize(
    ("function", "layer_class"),
    [(ops.max_pool, keras.layers.MaxPooling2D), (ops.average_pool, keras.layers.AveragePooling2D)],
    ids=["max", "average"],
)
def test_pool_default_stride_is_pool_size_like_keras(function, layer_class):
    image = _random((7, 7), seed=7)

    expected = _run_on_image(layer_class(3, padding="same"), image)
    np.testing.assert_allclose(
        function(image, 3, padding="same").output, expected, rtol=TOLERANCE, atol=TOLERANCE
    )


@pytest.mark.parametrize("padding", ops.PADDINGS)
@pytest.mark.parametrize("stride", [(1, 2), (3, 1)])
def test_stride_pairs_match_keras(stride, padding):
    """Guards against mixing up the row and column stride (square strides cannot tell)."""
    image, kernel = _random((8, 7), seed=31), _random((3, 2), seed=32)

    conv = ops.conv2d(image, kernel, stride=stride, padding=padding, bias=0.1)
    pool = ops.average_pool(image, (2, 3), stride=stride, padding=padding)

    expected_conv = _keras_conv(image, kernel, stride, padding, 0.1)
    pool_layer = keras.layers.AveragePooling2D((2, 3), strides=stride, padding=padding)
    np.testing.assert_allclose(conv.output, expected_conv, rtol=TOLERANCE, atol=TOLERANCE)
    np.testing.assert_allclose(
        pool.output, _run_on_image(pool_layer, image), rtol=TOLERANCE, atol=TOLERANCE
    )


@pytest.mark.parametrize(("input_count", "unit_count"), [(1, 1), (5, 3), (12, 7)])
def test_dense_matches_keras(input_count, unit_count):
    seed = input_count * 10 + unit_count
    inputs = _random(input_count, seed)
    weights, bias = _random((input_count, unit_count), seed + 1), _random(unit_count, seed + 2)
    layer = keras.layers.Dense(unit_count)
    layer.build((None, input_count))
    layer.set_weights([weights, bias])

    result = ops.dense(inputs, weights, bias)

    expected = np.asarray(layer(inputs[np.newaxis].astype("float32")))[0]
    np.testing.assert_allclose(result.output, expected, rtol=TOLERANCE, atol=TOLERANCE)
    assert len(result.steps) == unit_count
    for step in result.steps:
        assert step.value == pytest.approx(result.output[step.col])
        assert [a for a, _ in step.terms] == pytest.approx(inputs)
        assert [b for _, b in step.terms] == pytest.approx(weights[:, step.col])


@pytest.mark.parametrize(
    ("function", "reference"),
    [
        (ops.relu, keras.activations.relu),
        (ops.sigmoid, keras.activations.sigmoid),
        (ops.tanh, keras.activations.tanh),
        (ops.softmax, keras.activations.softmax),
    ],
    ids=["relu", "sigmoid", "tanh", "softmax"],
)
def test_activations_match_keras(function, reference):
    # Values up to ±80 check that sigmoid and softmax stay stable where e^x overflows float32.
    values = _random((4, 6), seed=3) * 20
    values[0, :2] = (80.0, -80.0)

    expected = np.asarray(reference(values.astype("float32")))
    np.testing.assert_allclose(function(values), expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_softmax_rows_add_up_to_one_without_overflow():
    probabilities = ops.softmax([[1000.0, 1000.0], [-1000.0, 0.0]])

    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0)
    np.testing.assert_allclose(probabilities[0], [0.5, 0.5])


# --- convolution details --------------------------------------------------------------------


def test_flip_kernel_gives_scipy_convolution():
    image, kernel = _random((6, 7), seed=11), _random((3, 2), seed=12)

    flipped = ops.conv2d(image, kernel, flip_kernel=True).output

    np.testing.assert_allclose(flipped, signal.convolve2d(image, kernel, mode="valid"))
    # Guards the flag itself: without it the same kernel gives cross-correlation, not scipy's.
    assert not np.allclose(ops.conv2d(image, kernel).output, flipped)


def test_flip_kernel_same_padding_matches_scipy_for_odd_kernels():
    image, kernel = _random((5, 6), seed=13), _random((3, 3), seed=14)

    result = ops.conv2d(image, kernel, padding="same", flip_kernel=True)

    np.testing.assert_allclose(result.output, signal.convolve2d(image, kernel, mode="same"))


def test_conv_steps_describe_each_output():
    image, kernel = _random((6, 5), seed=21), _random((2, 3), seed=22)

    result = ops.conv2d(image, kernel, stride=2, padding="same", bias=0.5)

    assert len(result.steps) == result.output.size
    for step in result.steps:
        window = result.padded[step.window]
        assert window.shape == kernel.shape
        assert [a for a, _ in step.terms] == pytest.approx(window.ravel())
        assert [b for _, b in step.terms] == pytest.approx(kernel.ravel())
        assert sum(a * b for a, b in step.terms) + 0.5 == pytest.approx(step.value)
        assert step.value == pytest.approx(result.output[step.row, step.col])
        assert step.text.endswith(f"= {ops.format_number(step.value)}")


def test_same_padding_puts_the_odd_cell_after_like_tensorflow():
    # in=4, kernel=2, stride=1: total pad 1, which TF puts at the bottom and right.
    result = ops.conv2d(np.ones((4, 4)), np.ones((2, 2)), padding="same")

    assert result.padded.shape == (5, 5)
    assert result.padded[:4, :4].all() and not result.padded[4].any()
    assert not result.padded[:, 4].any()


def test_pool_steps_ignore_padded_cells():
    image = np.arange(1.0, 10.0).reshape(3, 3)

    maximum = ops.max_pool(image, 2, padding="same")
    average = ops.average_pool(image, 2, padding="same")

    np.testing.assert_array_equal(average.output, [[3, 4.5], [7.5, 9]])
    assert np.isnan(average.padded[3]).all()
    assert average.steps[1].terms == (3.0, 6.0)
    assert average.steps[1].text == "(3 + 6) / 2 = 4.5"
    assert maximum.steps[3].text == "max(9) = 9"
    assert [step.value for step in maximum.steps] == maximum.output.ravel().tolist()


def test_step_text_writes_negative_numbers_readably():
    result = ops.dense([1.0, -2.0, 0.5], [[2.0], [-1.0], [1 / 3]], [-0.25])

    assert result.steps[0].text == "1×2 - 2×(-1) + 0.5×0.333 - 0.25 = 3.917"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (-0.0, "0"),
        (2.5, "2.5"),
        (1 / 3, "0.333"),
        (-2 / 3, "-0.667"),
        (1.23e-5, "1.23e-05"),
        (np.float32(20), "20"),
    ],
)
def test_format_number(value, text):
    assert ops.format_number(value) == text


# --- the shape rule -------------------------------------------------------------------------


def test_output_size_matches_keras_shape_inference():
    for size, window, stride, padding in itertools.product(
        range(1, 10), range(1, 5), STRIDES, ops.PADDINGS
    ):
        if padding == "valid" and window > size:
            continue
        layer = keras.layers.MaxPooling2D(window, strides=stride, padding=padding)
        expected = layer.compute_output_shape((1, size, size, 1))[1]
        assert ops.output_size(size, window, stride, padding) == expected, (size, window, stride)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ((28, 3, 1, "valid"), 26),
        ((26, 2, 2, "valid"), 13),
        ((7, 2, 2, "same"), 4),
        ((3, 5, 1, "same"), 3),
        ((9, 4, 3, "valid"), 2),
    ],
)
def test_output_size_examples(arguments, expected):
    assert ops.output_size(*arguments) == expected


# --- validation -----------------------------------------------------------------------------

SQUARE = np.arange(9.0).reshape(3, 3)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: ops.conv2d(SQUARE, np.ones((4, 4))),
            r"kernel no larger than the padded input \(3×3\), got 4×4\. Use padding='same'",
        ),
        (lambda: ops.conv2d(SQUARE, np.ones((2, 2)), stride=0), "stride .* ≥ 1, got 0"),
        (lambda: ops.conv2d(SQUARE, np.ones((2, 2)), stride=1.5), "whole number"),
        (lambda: ops.conv2d(SQUARE[..., None], np.ones((2, 2))), r"2-D .*image\[\.\.\., 0\]"),
        (lambda: ops.conv2d(SQUARE, np.ones((2, 2)), padding="full"), "'valid' or 'same'"),
        (
            lambda: ops.conv2d(np.where(SQUARE == 4, np.nan, SQUARE), np.ones((2, 2))),
            r"finite numbers in inputs, found nan at \(1, 1\)",
        ),
        (lambda: ops.conv2d(SQUARE, [[1, "a"]]), "numbers in kernel"),
        (lambda: ops.conv2d(SQUARE, np.ones((2, 2)), bias=[1, 2]), "single number for bias"),
        (lambda: ops.max_pool(SQUARE, 4), r"pool window no larger .*smaller pool_size"),
        (lambda: ops.max_pool(SQUARE, 0), "pool_size .* ≥ 1"),
        (lambda: ops.average_pool(SQUARE, (2, 2, 2)), r"\(rows, cols\) pair"),
        (
            lambda: ops.dense(np.ones(3), np.ones((2, 3)), np.ones(3)),
            "weights with 3 rows .* Transpose",
        ),
        (lambda: ops.dense(np.ones(3), np.ones((3, 2)), np.ones(3)), "bias with 2 values"),
        (lambda: ops.dense(SQUARE, np.ones((9, 2)), np.ones(2)), r"1-D .*ravel\(\)"),
        (lambda: ops.softmax(1.0), "at least one axis"),
        (lambda: ops.relu([np.inf]), "finite numbers"),
        (lambda: ops.output_size(3, 4, 1, "valid"), "window no larger than the input"),
        (lambda: ops.output_size(3, 2, 0, "valid"), "stride .* ≥ 1"),
    ],
)
def test_invalid_arguments_raise_errors_that_say_how_to_fix_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_padding_name_is_case_insensitive_like_keras():
    np.testing.assert_array_equal(
        ops.max_pool(SQUARE, padding="SAME").output, ops.max_pool(SQUARE, padding="same").output
    )


# --- the article's worked example -----------------------------------------------------------


def test_article_example_valid_gives_one_value():
    result = ops.conv2d(EXAMPLE_INPUT, EXAMPLE_KERNEL, padding="valid")

    np.testing.assert_array_equal(result.output, [[20]])
    assert result.steps[0].text == "1×0 + 2×1 + 3×0 + 4×1 + 5×0 + 6×1 + 7×0 + 8×1 + 9×0 + 0 = 20"


def test_article_example_same_padding_matches_keras():
    result = ops.conv2d(EXAMPLE_INPUT, EXAMPLE_KERNEL, padding="same")

    np.testing.assert_array_equal(result.output, EXAMPLE_SAME)
    np.testing.assert_allclose(
        _keras_conv(EXAMPLE_INPUT, EXAMPLE_KERNEL, 1, "same", 0.0), EXAMPLE_SAME
    )


def test_article_printed_values_are_not_reproduced():
    """Regression guard for the article's errors: its printed conv and pool maps are wrong."""
    printed_conv = np.array(errata.ARTICLE_EXAMPLE["article_printed_conv"])
    printed_pool = np.array(errata.ARTICLE_EXAMPLE["article_printed_pool"])
    for padding in ops.PADDINGS:
        output = ops.conv2d(EXAMPLE_INPUT, EXAMPLE_KERNEL, padding=padding).output
        assert output.shape != printed_conv.shape or not np.array_equal(output, printed_conv)
        pooled = ops.max_pool(printed_conv, 2, padding=padding).output
        assert pooled.shape != printed_pool.shape or not np.array_equal(pooled, printed_pool)


def _errata_text(entry):
    return " ".join(entry[key] for key in ("claim", "correct", "why"))


def test_article_errata_are_plain_text_entries():
    entries = errata.article_errata()

    assert len(entries) == 3
    for entry in entries:
        assert set(entry) == {"claim", "correct", "why"}
        assert all(isinstance(text, str) and text for text in entry.values())


def test_conv_erratum_reports_the_computed_maps():
    conv_entry = errata.article_errata()[0]

    assert "[[4, 6, 9], [7, 10, 13], [4, 6, 9]]" in conv_entry["claim"]
    assert "[[20]]" in conv_entry["correct"]
    assert "[[6, 9, 8], [13, 20, 17], [12, 21, 14]]" in conv_entry["correct"]
    assert ops.conv2d(EXAMPLE_INPUT, EXAMPLE_KERNEL).steps[0].text in conv_entry["correct"]
    assert "must be 20, yet the article prints 10" in conv_entry["why"]
    assert "no consistent padding rule" in conv_entry["why"]


def test_pool_erratum_matches_keras_pooling():
    pool_entry = errata.article_errata()[1]
    printed_conv = np.array(errata.ARTICLE_EXAMPLE["article_printed_conv"], dtype=float)

    def keras_max_pool(feature_map, padding):
        pooled = _run_on_image(keras.layers.MaxPooling2D(2, padding=padding), feature_map)
        return errata._matrix_text(pooled)

    assert keras_max_pool(np.array(EXAMPLE_SAME, dtype=float), "valid") == "[[20]]"
    assert keras_max_pool(np.array(EXAMPLE_SAME, dtype=float), "same") == "[[20, 17], [21, 14]]"
    assert (
        "[[20]] with padding='valid' and [[20, 17], [21, 14]] with padding='same'"
        in (pool_entry["correct"])
    )
    for padding in ops.PADDINGS:
        assert keras_max_pool(printed_conv, padding) in pool_entry["why"]
    # The printed pool is reproducible only by this mixed padding, which the entry must name.
    assert "1 padded row at the bottom and 1 padded column on the left" in pool_entry["why"]


def test_relu_erratum_names_both_functions():
    relu_entry = errata.article_errata()[2]

    assert "归一化指数函数" in relu_entry["claim"]
    assert "线性整流函数" in relu_entry["correct"] and "修正线性单元" in relu_entry["correct"]
    assert "softmax" in relu_entry["correct"]
    assert errata._matrix_text(ops.softmax([-2.0, 0.0, 3.0])) in relu_entry["why"]
