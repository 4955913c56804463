"""A decoded picture → working pixels: mode, depth, size, and the channel that holds the ink."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from lepton.imaging.decoding import WORKING_MAX_PIXELS

TRANSPARENT_FRACTION = 0.01  # alpha counts as used when this share of pixels is see-through
MIN_INK_CONTRAST = 24.0  # of 255: weaker differences are paper texture or JPEG noise
_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def _to_working_mode(image: Image.Image) -> Image.Image:
    """Any Pillow mode → L, RGB, RGBA, or F holding levels 0..255."""
    if image.mode in _HIGH_DEPTH_MODES:
        return Image.fromarray(_high_depth_to_levels(image))
    if image.has_transparency_data:
        return image.convert("RGBA")
    if image.mode in ("L", "RGB"):
        return image
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGB")  # P, CMYK, YCbCr, LAB, HSV…


def _high_depth_to_levels(image: Image.Image) -> np.ndarray:
    """16/32-bit integer or float pixels → float32 levels 0..255, by the mode's nominal range."""
    values = np.asarray(image).astype(np.float32)
    if not np.isfinite(values).all():
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    if image.mode.startswith("I;16") or (image.mode == "I" and 0 <= low and 255 < high <= 65535):
        return values / 257.0
    if image.mode == "F" and 0.0 <= low and high <= 1.0:
        return values * 255.0
    if 0.0 <= low and high <= 255.0:
        return values
    if high == low:
        return np.zeros_like(values)
    # In float64: the spread of extreme float32 pixels (e.g. ±3e38) overflows float32 to inf.
    return ((values.astype(np.float64) - low) * (255.0 / (high - low))).astype(np.float32)


def _shrink(image: Image.Image) -> Image.Image:
    """Box-reduces a very large picture so the steps below stay fast."""
    width, height = image.size
    if width * height <= WORKING_MAX_PIXELS:
        return image
    factor = math.ceil(math.sqrt(width * height / WORKING_MAX_PIXELS))
    return image.reduce((min(factor, width), min(factor, height)))


def _to_uint8(values: np.ndarray) -> np.ndarray:
    if values.dtype == np.uint8:
        return values
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


def _ink_source(image: Image.Image) -> np.ndarray:
    """The single channel that carries the ink, levels 0..255: uint8, or float32 if not whole.

    Luminance, unless the picture has a used alpha channel: strokes on a transparent
    background (a drawing canvas, a cut-out) then carry their ink in the alpha channel.
    """
    if image.mode == "F":
        return np.asarray(image, dtype=np.float32)
    luminance = np.asarray(image if image.mode == "L" else image.convert("L"))
    if image.mode != "RGBA":
        return luminance
    alpha = np.asarray(image.getchannel("A"))
    if np.mean(alpha < 128) < TRANSPARENT_FRACTION:
        return luminance
    opaque = luminance[alpha >= 128].astype(np.float32)
    if opaque.size > alpha.size / 2 and _spread_of(opaque) > 2 * MIN_INK_CONTRAST:
        # Mostly an opaque sheet with a drawing on it and see-through margins (rounded corners,
        # a rotated scan): the drawing is in the luminance, the margins are more paper.
        paper = float(np.median(opaque))
        weight = alpha.astype(np.float32) / 255.0
        return luminance.astype(np.float32) * weight + paper * (1.0 - weight)
    # Strokes of any colour on transparency: their opacity is the ink, whatever their colour.
    return alpha


def _spread_of(values: np.ndarray) -> float:
    low, high = np.percentile(values, [1, 99])
    return float(high - low)
