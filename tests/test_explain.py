"""lepton.explain: feature maps, saliency and Grad-CAM against references, on real digits."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from lepton import explain, ops
from lepton.model import ModelConfig, build_model, layer_table
from lepton.training import TrainConfig, fit

DIGITS = 20  # test digits over which Grad-CAM's ink focus is averaged


@pytest.fixture(scope="module")
def trained(tiny_data):
    """The reference network after one epoch on 600 mnist-5k digits (≈55 % accurate, ~3 s)."""
    result = fit(ModelConfig(), TrainConfig(epochs=1, batch_size=64, subset=None),
                 tiny_data.x_train, tiny_data.y_train)
    assert result.status == "done", result.reason
    return result.model


@pytest.fixture(scope="module")
def digit(tiny_data):
    return tiny_data.x_test[0]


# --- feature maps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [ModelConfig(), ModelConfig(filters=(8, 16, 16), kernel_size=2, pooling="avg")],
    ids=["reference", "three-avg-blocks"],
)
def test_feature_map_shapes_equal_the_layer_table(config, digit):
    model = build_model(config)

    maps = explain.feature_maps(model, digit)

    expected = [row for row in layer_table(model)
                if row["type"] in ("Conv2D", "MaxPooling2D", "AveragePooling2D")]
    assert [(item["name"], item["type"]) for item in maps] == [
        (row["name"], row["type"]) for row in expected
    ]
    assert [item["maps"].shape for item in maps] == [row["output_shape"] for row in expected]
    assert all(item["maps"].dtype == np.float32 for item in maps)


def test_first_conv_maps_are_relu_of_the_ops_convolution(trained, digit):
    kernel, bias = trained.get_layer("conv1").get_weights()

    maps = explain.feature_maps(trained, digit)[0]["maps"]

    for channel in (0, 5, 31):
        reference = ops.relu(ops.conv2d(digit[..., 0], kernel[:, :, 0, channel],
                                        bias=bias[channel]).output)
        np.testing.assert_allclose(maps[..., channel], reference, atol=1e-5)


def test_feature_maps_reuse_a_given_extractor_and_take_2d_images(trained, digit):
    extractor = explain.feature_model(trained)

    with_extractor = explain.feature_maps(trained, digit[..., 0], extractor)
    without = explain.feature_maps(trained, digit)

    for first, second in zip(with_extractor, without, strict=True):
        np.testing.assert_array_equal(first["maps"], second["maps"])


def test_feature_maps_refuse_an_image_of_the_wrong_size(trained):
    with pytest.raises(ValueError, match=r"Expected one image of shape \(28, 28, 1\)"):
        explain.feature_maps(trained, np.zeros((32, 32, 1)))


def test_feature_model_needs_conv_or_pool_layers():
    dense_only = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    with pytest.raises(ValueError, match="Conv2D or pooling"):
        explain.feature_model(dense_only)


# --- grid -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "columns", "scale", "expected"),
    [
        ((26, 26, 32), 8, 1, (4 * 26 + 3, 8 * 26 + 7)),
        ((5, 5, 64), 8, 12, (8 * 60 + 7, 8 * 60 + 7)),
        ((13, 11, 10), 4, 2, (3 * 26 + 2, 4 * 22 + 3)),  # last row holds 2 of 4 tiles
        ((7, 7, 3), 8, 1, (7, 3 * 7 + 2)),  # fewer channels than columns: one row
        ((9, 9), 8, 1, (9, 9)),  # one 2-D map: no separator at all
    ],
)
def test_grid_shape_arithmetic(shape, columns, scale, expected):
    maps = np.random.default_rng(0).random(shape)

    assert explain.grid(maps, columns=columns, scale=scale).shape == expected


def test_grid_normalises_each_channel_and_draws_separators():
    maps = np.zeros((2, 3, 3), dtype=np.float32)
    maps[..., 0] = [[0, 1, 2], [3, 4, 5]]  # stretched to 0..255
    maps[..., 1] = [[-5, -5, -5], [-5, -5, 5]]  # only its own range counts
    maps[..., 2] = 7.0  # constant: black

    image = explain.grid(maps, columns=2)

    assert image.dtype == np.uint8 and image.shape == (5, 7)
    np.testing.assert_array_equal(image[:2, :3], [[0, 51, 102], [153, 204, 255]])
    np.testing.assert_array_equal(image[:2, 4:7], [[0, 0, 0], [0, 0, 255]])
    np.testing.assert_array_equal(image[3:5, :3], 0)
    assert (image[2, :] == 255).all() and (image[:, 3] == 255).all()  # separators
    assert (image[3:5, 4:7] == 255).all()  # the unused tile


def test_grid_refuses_a_bad_scale():
    with pytest.raises(ValueError, match="scale"):
        explain.grid(np.zeros((4, 4, 2)), scale=0)


# --- saliency and Grad-CAM ------------------------------------------------------------------


def test_logits_are_the_output_before_softmax(trained, tiny_data):
    batch = tiny_data.x_test[:8]
    hidden = batch
    for layer in trained.layers[:-1]:
        hidden = layer(hidden, training=False)

    logits = explain._logits(trained.layers[-1], hidden)

    np.testing.assert_allclose(tf.nn.softmax(logits), trained(batch, training=False),
                               atol=1e-6)


def test_saliency_is_a_normalised_gradient_map(trained, digit):
    heat = explain.saliency(trained, digit)

    assert heat.shape == (28, 28) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    assert heat.std() > 0.01
    assert not np.allclose(heat, explain.saliency(trained, digit, class_index=3)) or \
        explain.predicted_class(trained, digit) == 3


def test_saliency_matches_a_functional_model_gradient(trained, digit):
    # Reference: the documented Keras route, a functional model up to the pre-softmax score.
    head = trained.get_layer("output")
    penultimate = keras.Model(trained.inputs[0], trained.get_layer("dense").output)
    image = tf.constant(digit[np.newaxis])
    with tf.GradientTape() as tape:
        tape.watch(image)
        logits = penultimate(image) @ head.kernel + head.bias
        score = logits[0, 4]
    gradient = np.abs(tape.gradient(score, image).numpy()[0, ..., 0])

    np.testing.assert_allclose(explain.saliency(trained, digit, class_index=4),
                               gradient / gradient.max(), atol=1e-5)


def test_grad_cam_cells_match_the_keras_io_recipe(trained, digit):
    # keras.io's Grad-CAM example: one functional model returning conv output and scores.
    head = trained.get_layer("output")
    grad_model = keras.Model(trained.inputs[0], [trained.get_layer("conv2").output,
                                                 trained.get_layer("dense").output])
    with tf.GradientTape() as tape:
        conv_output, hidden = grad_model(digit[np.newaxis])
        score = (hidden @ head.kernel + head.bias)[0, 7]
    gradient = tape.gradient(score, conv_output)[0].numpy()
    pooled = gradient.mean(axis=(0, 1))
    reference = np.maximum((conv_output[0].numpy() * pooled).sum(axis=-1), 0)

    cells = explain.grad_cam_cells(trained, digit, class_index=7)

    assert cells.shape == (11, 11)
    np.testing.assert_allclose(cells, reference, atol=1e-5)


def test_grad_cam_is_normalised_and_not_constant(trained, digit):
    heat = explain.grad_cam(trained, digit)

    assert heat.shape == (28, 28) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    assert heat.std() > 0.01


def test_grad_cam_looks_at_the_ink_more_than_at_the_background(trained, tiny_data):
    # Per digit this holds for about 3 in 5 at this training level (an 11×11 map is coarse and
    # the network also uses empty regions as evidence, e.g. beside a 1), so compare means.
    ink_heat, background_heat = [], []
    for image in tiny_data.x_test[:DIGITS]:
        heat = explain.grad_cam(trained, image)
        ink_heat.append(heat[image[..., 0] > 0.5].mean())
        background_heat.append(heat[image[..., 0] == 0].mean())

    assert np.mean(ink_heat) > 1.3 * np.mean(background_heat)


def test_heat_maps_of_a_dead_network_are_zeros_not_nan(digit):
    model = build_model(ModelConfig(filters=(8,), dense_units=16))
    conv = model.get_layer("conv1")
    conv.set_weights([np.zeros_like(weight) for weight in conv.get_weights()])

    for heat in (explain.grad_cam(model, digit), explain.saliency(model, digit)):
        assert heat.shape == (28, 28) and not np.isnan(heat).any()
        assert (heat == 0).all()


def test_class_index_must_be_a_class(trained, digit):
    with pytest.raises(ValueError, match=r"class_index in 0\.\.9"):
        explain.grad_cam(trained, digit, class_index=10)


@pytest.mark.parametrize(
    ("layers", "centre"),
    [
        # The reference network up to conv2: cell i is centred on pixel 3.5 + 2i. (Average
        # pooling: a max-pool of equal values passes the gradient to one cell only.)
        ([keras.layers.Conv2D(1, 3), keras.layers.AveragePooling2D(2),
          keras.layers.Conv2D(1, 3)], (3.5, 2.0)),
        ([keras.layers.Conv2D(1, 5)], (2.0, 1.0)),
        # 'same' with stride 2 pads 28 by 0 before and 1 after (TF puts the odd cell after).
        ([keras.layers.Conv2D(1, 3, strides=2, padding="same")], (1.0, 2.0)),
        ([keras.layers.Conv2D(1, 4, strides=2, padding="same"), keras.layers.AveragePooling2D(3)],
         (2.5, 6.0)),
    ],
    ids=["reference", "kernel-5", "same-stride-2", "same-even-kernel-then-pool-3"],
)
def test_cell_centres_are_the_receptive_field_centres(layers, centre):
    model = keras.Sequential([keras.Input((28, 28, 1)), *layers])
    for layer in model.layers:  # all-ones linear conv: the gradient marks the receptive field
        if layer.weights:
            layer.set_weights([np.ones_like(weight) for weight in layer.get_weights()])

    start, step = explain.cell_centres(model.layers)[0]

    assert (start, step) == centre
    cell = model.output_shape[1] // 2  # an interior cell, clear of the padded border
    image = tf.zeros((1, 28, 28, 1))
    with tf.GradientTape() as tape:
        tape.watch(image)
        value = model(image)[0, cell, cell, 0]
    field = tape.gradient(value, image).numpy()[0, :, :, 0]
    rows = np.flatnonzero(field.sum(axis=1))
    assert (rows[0] + rows[-1]) / 2 == start + step * cell


def test_overlay_colours_only_where_there_is_heat(digit):
    heat = np.zeros((28, 28), dtype=np.float32)
    heat[10:12, 10:12] = 1.0

    rgb = explain.overlay(digit, heat)

    assert rgb.shape == (28, 28, 3) and rgb.dtype == np.uint8
    cold = rgb[heat == 0]
    assert (cold[:, 0] == cold[:, 1]).all() and (cold[:, 1] == cold[:, 2]).all()  # grey
    hot = rgb[10, 10].astype(int)
    assert hot[0] > hot[2] and hot[1] > hot[2]  # yellow-ish: red and green over blue
    with pytest.raises(ValueError, match="heat map of shape"):
        explain.overlay(digit, np.zeros((14, 14)))


def test_upscale_repeats_pixels():
    image = np.array([[1, 2], [3, 4]], dtype=np.uint8)

    np.testing.assert_array_equal(explain.upscale(image, 2),
                                  [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    assert explain.upscale(np.zeros((2, 3, 3)), 3).shape == (6, 9, 3)
