"""The fused augmentation layer: its matrices, its modes and its inputs."""

import math

import numpy as np
import pytest

from lepton.augmentation import RandomAffine, affine_matrices

SIZE = 9  # odd, so the centre is a pixel


def transformed(image, angle=0.0, scale=1.0, shift_x=0.0, shift_y=0.0):
    from keras import ops

    matrix = affine_matrices(np.array([angle], "float32"), np.array([scale], "float32"),
                             np.array([shift_x], "float32"), np.array([shift_y], "float32"),
                             image.shape[0], image.shape[1])
    batch = image[None, :, :, None].astype("float32")
    return np.asarray(ops.image.affine_transform(batch, matrix, interpolation="bilinear",
                                                 fill_mode="constant", fill_value=0))[0, :, :, 0]


def as_3x3(flat):
    return np.array([flat[0:3], flat[3:6], [0.0, 0.0, 1.0]])


@pytest.fixture
def image():
    return np.random.default_rng(0).random((SIZE, SIZE)).astype("float32")


def test_zero_angle_unit_scale_and_no_shift_is_the_identity(image):
    np.testing.assert_allclose(transformed(image), image, atol=1e-6)


def test_a_shift_moves_the_content_and_fills_with_zeros(image):
    # Output pixel x samples input x + 3: the content moves 3 pixels left.
    expected = np.zeros_like(image)
    expected[:, :-3] = image[:, 3:]
    np.testing.assert_allclose(transformed(image, shift_x=3.0), expected, atol=1e-6)


def test_a_quarter_turn_about_the_centre_is_numpys_rot90(image):
    np.testing.assert_allclose(transformed(image, angle=math.pi / 2), np.rot90(image),
                               atol=1e-5)


def test_scale_matches_keras_random_zoom_matrix():
    # RandomZoom's matrix for zoom z: [z, 0, (w-1)/2 (1-z), 0, z, (h-1)/2 (1-z), 0, 0].
    zoom, height, width = 1.1, 28, 20
    matrix = np.asarray(affine_matrices(np.zeros(1, "float32"), np.full(1, zoom, "float32"),
                                        np.zeros(1, "float32"), np.zeros(1, "float32"),
                                        height, width))[0]
    expected = [zoom, 0, (width - 1) / 2 * (1 - zoom), 0, zoom, (height - 1) / 2 * (1 - zoom),
                0, 0]
    np.testing.assert_allclose(matrix, expected, atol=1e-5)


def test_the_matrix_composes_shift_after_rotation_after_zoom():
    # Three layers in a row (shift, then rotation, then zoom) sample the input at
    # T(R(Z(p))) for output pixel p: one matrix must equal that product.
    angle, scale, shift_x, shift_y, size = 0.3, 0.9, 2.0, -1.5, 28
    center = (size - 1) / 2

    def about_centre(linear):
        to_centre = np.array([[1, 0, -center], [0, 1, -center], [0, 0, 1]])
        back = np.array([[1, 0, center], [0, 1, center], [0, 0, 1]])
        return back @ linear @ to_centre

    rotation = about_centre(np.array([[math.cos(angle), -math.sin(angle), 0],
                                      [math.sin(angle), math.cos(angle), 0], [0, 0, 1]]))
    zoom = about_centre(np.diag([scale, scale, 1.0]))
    shift = np.array([[1, 0, shift_x], [0, 1, shift_y], [0, 0, 1]])
    fused = np.asarray(affine_matrices(*(np.array([value], "float32") for value in
                                         (angle, scale, shift_x, shift_y)), size, size))[0]
    np.testing.assert_allclose(as_3x3(fused), shift @ rotation @ zoom, atol=1e-4)
    assert fused[6:].tolist() == [0.0, 0.0]


def test_the_layer_is_the_identity_outside_training():
    images = np.random.default_rng(1).random((4, 28, 28, 1)).astype("float32")
    layer = RandomAffine(0.1, 0.04, 0.1, seed=0)
    np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)


def test_in_training_each_image_gets_its_own_transform_within_the_bounds():
    # A centred bright square: after a shift of at most 10 % (2.8 px), a rotation and a zoom
    # of at most 10 %, its centre of mass stays within 2.8 px per axis plus rounding.
    images = np.zeros((32, 28, 28, 1), "float32")
    images[:, 11:17, 11:17, 0] = 1.0
    layer = RandomAffine(0.1, 0.04, 0.1, seed=0)
    out = np.asarray(layer(images, training=True))
    assert out.shape == images.shape and np.isfinite(out).all()
    assert out.min() >= 0.0 and out.max() <= 1.0 + 1e-6
    rows, columns = np.mgrid[0:28, 0:28]
    mass = out[..., 0].sum(axis=(1, 2))
    centre_row = (out[..., 0] * rows).sum(axis=(1, 2)) / mass
    centre_column = (out[..., 0] * columns).sum(axis=(1, 2)) / mass
    assert np.abs(centre_row - 13.5).max() <= 2.8 + 0.2
    assert np.abs(centre_column - 13.5).max() <= 2.8 + 0.2
    # Different images of the batch moved differently, and a second call draws anew.
    assert np.unique(np.round(centre_column, 3)).size > 16
    assert not np.allclose(np.asarray(layer(images, training=True)), out)


def test_the_same_seed_draws_the_same_transforms():
    images = np.random.default_rng(2).random((8, 28, 28, 1)).astype("float32")
    first = np.asarray(RandomAffine(0.1, 0.04, 0.1, seed=7)(images, training=True))
    second = np.asarray(RandomAffine(0.1, 0.04, 0.1, seed=7)(images, training=True))
    np.testing.assert_allclose(first, second)


@pytest.mark.parametrize("name", ["translation", "rotation", "zoom"])
@pytest.mark.parametrize("value", [-0.1, 1.0])
def test_factors_outside_zero_to_one_are_refused(name, value):
    with pytest.raises(ValueError, match=f"Expected {name} in \\[0, 1\\)"):
        RandomAffine(**{name: value})
