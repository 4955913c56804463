"""Training-time augmentation: random shift, rotation and zoom as one affine transform."""

from __future__ import annotations

import math

import keras
from keras import ops


def affine_matrices(angle, scale, shift_x, shift_y, height, width):
    """Keras' flattened projective transforms (batch, 8): rotate by `angle` radians and scale
    by `scale` about the image's centre, then shift by (`shift_x`, `shift_y`) pixels.

    Output pixel (x, y) samples the input at (a0 x + a1 y + a2, b0 x + b1 y + b2), the layout
    `keras.ops.image.affine_transform` expects.
    """
    cosine, sine = scale * ops.cos(angle), scale * ops.sin(angle)
    center_x, center_y = (width - 1) / 2.0, (height - 1) / 2.0
    zeros = ops.zeros_like(cosine)
    return ops.stack([
        cosine, -sine, shift_x + center_x - center_x * cosine + center_y * sine,
        sine, cosine, shift_y + center_y - center_x * sine - center_y * cosine,
        zeros, zeros,
    ], axis=1)


class RandomAffine(keras.layers.Layer):
    """Shifts, rotates and zooms each image at random, in training only; identity otherwise.

    The same transforms as `RandomTranslation`, `RandomRotation` and `RandomZoom` in a row
    (same factors, same units, constant zero fill, bilinear), composed into one matrix, so each
    image is resampled once instead of three times (BENCHMARKS.md has what that saves).

    Args:
        translation: largest shift, as a fraction of the image's height and width.
        rotation: largest rotation, as a fraction of a full turn (0.04 is 14.4 degrees).
        zoom: largest change of scale, as a fraction (0.1 is 90 % to 110 %).
        seed: seed of the layer's random draws.
    """

    def __init__(self, translation=0.0, rotation=0.0, zoom=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("translation", translation), ("rotation", rotation),
                            ("zoom", zoom)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"Expected {name} in [0, 1) (a fraction), got {value!r}.")
        self.translation, self.rotation, self.zoom = translation, rotation, zoom
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        batch = ops.shape(images)[0]
        height, width = images.shape[1], images.shape[2]
        draws = keras.random.uniform((batch, 4), -1.0, 1.0, seed=self.seed_generator)
        angle = draws[:, 0] * (self.rotation * 2.0 * math.pi)
        scale = 1.0 + draws[:, 1] * self.zoom
        shift_x = draws[:, 2] * (self.translation * width)
        shift_y = draws[:, 3] * (self.translation * height)
        transform = affine_matrices(angle, scale, shift_x, shift_y, height, width)
        return ops.image.affine_transform(images, transform, interpolation="bilinear",
                                          fill_mode="constant", fill_value=0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "translation": self.translation,
                "rotation": self.rotation, "zoom": self.zoom, "seed": self.seed}
