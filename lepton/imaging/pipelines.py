"""The picture → model-input recipes, keeping every step: MNIST-style digits and plain resize."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from lepton.i18n import Message, message
from lepton.imaging.decoding import (
    COARSE_DRAFT_MIN_PIXELS,
    DRAFT_MIN_PIXELS,
    _as_image,
    _decode,
    _open,
    draft_scale,
)
from lepton.imaging.framing import BOX_SIZE, FIELD_SIZE, _centre_by_mass, _fit_to_box
from lepton.imaging.ink import _find_ink, _Gray, _is_dark_on_light, _remove_background
from lepton.imaging.pixels import _ink_source, _shrink, _to_uint8, _to_working_mode
from lepton.imaging.refusals import ImageError

PREPROCESSING_KINDS = ("digit", "plain")
# Ink found shorter than this on a coarsely decoded JPEG is looked for again at the finer scale:
# fitting it into the 20-px box should shrink it (LANCZOS averaging), not blow it up.
MIN_INK_SIDE = 2 * BOX_SIZE


@dataclass(frozen=True, eq=False)  # eq=False: arrays do not compare or hash as values
class Step:
    """One intermediate picture of the pipeline, ready for `st.image`."""

    name: Message  # what was done, e.g. "fitted to 20×20"; `.text(language)` to show it
    image: np.ndarray  # 2-D uint8, or H×W×3 / H×W×4 uint8 for the original

    @property
    def label(self) -> str:
        """The step's name in English."""
        return str(self.name)


@dataclass(frozen=True, eq=False)
class Preprocessed:
    """The model input and how it was made."""

    input: np.ndarray  # float32 (28, 28, 1) in [0, 1], white ink on black like MNIST
    steps: tuple[Step, ...]
    inverted: bool  # True when the picture was dark ink on a light background
    source_size: tuple[int, int]  # (width, height) of the upright picture, before any reduction


def preprocess_image(source: bytes | Image.Image | np.ndarray) -> Preprocessed:
    """Turns a picture into a 28×28 MNIST-style input, keeping every step.

    Args:
        source: An uploaded file's bytes, a Pillow image, or an array as a drawing canvas
            returns it (H×W×4 RGBA, H×W×3 RGB or H×W grayscale; uint8, or floats in [0, 1]).
            The bytes of a JPEG are decoded at 1/2 to 1/8 scale keeping
            COARSE_DRAFT_MIN_PIXELS, and again keeping DRAFT_MIN_PIXELS when the ink found is
            under MIN_INK_SIDE; a Pillow image is decoded in full.

    Returns:
        The float32 (28, 28, 1) input, the intermediate pictures, whether the picture was
        inverted, and the picture's (width, height) before any reduction. A colour JPEG is
        decoded straight to its luminance, so its original step is gray; `with_colour_original`
        puts the colour one back for display.

    Raises:
        ImageError: If the source is unreadable, of an absurd size, or holds no ink.
    """
    image, source_size = _as_image(source, luma=True, min_pixels=COARSE_DRAFT_MIN_PIXELS)
    finer = _drafted_coarser(image, source_size)
    try:
        prepared = _digit_recipe(image, source_size, MIN_INK_SIDE if finer else 0)
    except ImageError:
        if not finer:
            raise
        prepared = None  # faint ink may only stand out at the finer scale
    if prepared is None:
        prepared = _digit_recipe(*_as_image(source, luma=True))
    return prepared


def _drafted_coarser(image: Image.Image, source_size: tuple[int, int]) -> bool:
    """Whether a JPEG was decoded at a smaller scale than DRAFT_MIN_PIXELS would keep."""
    # A drafted side is the source side divided by the scale, rounded up: never below it.
    reduction = source_size[0] / image.width
    return reduction > draft_scale(*source_size)


def _digit_recipe(image: Image.Image, source_size: tuple[int, int], min_ink_side: int = 0
                  ) -> Preprocessed | None:
    """The MNIST steps over a decoded picture; None, at once, if the ink found is shorter
    than `min_ink_side` px."""
    image = _shrink(_to_working_mode(image))
    original = _to_uint8(np.asarray(image))
    steps = [Step(message("predict.step_original"), original)]
    gray = _Gray.of(original if image.mode == "L" else _ink_source(image))
    steps.append(Step(message("predict.step_grayscale_ink"), _to_uint8(gray.pixels)))
    inverted = _is_dark_on_light(gray)
    if inverted:
        gray = gray.inverted()
        steps.append(Step(message("predict.step_inverted"), _to_uint8(gray.pixels)))
    cropped, box = _find_ink(gray, _remove_background(gray))
    if max(cropped.shape) < min_ink_side:
        return None
    background_removed = np.zeros(gray.pixels.shape, np.uint8)
    background_removed[box] = _to_uint8(cropped)  # no ink lies outside the crop
    steps.append(Step(message("predict.step_background"), background_removed))
    steps.append(Step(message("predict.step_cropped"), _to_uint8(cropped)))
    fitted = _fit_to_box(cropped)
    steps.append(Step(message("predict.step_fitted", size=f"{BOX_SIZE}×{BOX_SIZE}"),
                      _to_uint8(fitted)))
    centred = _centre_by_mass(fitted)
    centred = centred / max(float(centred.max()), 1e-6)  # a faint digit still reaches 1.0
    steps.append(Step(message("predict.step_centred", size=f"{FIELD_SIZE}×{FIELD_SIZE}"),
                      _to_uint8(centred * 255.0)))
    return Preprocessed(
        input=centred.astype(np.float32)[..., np.newaxis],
        steps=tuple(steps),
        inverted=inverted,
        source_size=source_size,
    )


def with_colour_original(prepared: Preprocessed, source: bytes | Image.Image | np.ndarray
                         ) -> Preprocessed:
    """The same preprocessing with a colour JPEG's original step decoded again in colour.

    For display only: the digit recipe reads luminance alone and `preprocess_image` decodes
    nothing else, so this second decode is not part of what a prediction costs. Any other
    source is returned as it is.
    """
    if not isinstance(source, (bytes, bytearray, memoryview)) or prepared.steps[0].image.ndim > 2:
        return prepared
    opened = _open(bytes(source))  # the header only: a gray picture is not decoded again
    if opened.format != "JPEG" or opened.mode != "RGB":
        return prepared
    gray_shape = prepared.steps[0].image.shape
    # At the scale the recipe kept: the coarse one, or the finer one it looked again at.
    for min_pixels in (COARSE_DRAFT_MIN_PIXELS, DRAFT_MIN_PIXELS):
        image, _ = _decode(opened, draft=True, min_pixels=min_pixels)
        colour = _to_uint8(np.asarray(_shrink(_to_working_mode(image))))
        if colour.shape[:2] == gray_shape:
            break
        opened = _open(bytes(source))  # a drafted picture cannot be drafted again
    original = Step(message("predict.step_original"), colour)
    return replace(prepared, steps=(original, *prepared.steps[1:]))


def prepare_plain(
    source: bytes | Image.Image | np.ndarray, size: tuple[int, int] = (28, 28), channels: int = 1
) -> Preprocessed:
    """Any picture → an (H, W, channels) input by a plain resize, keeping both steps.

    For photos, icons and shapes: the whole picture is kept and stretched to `size`; nothing
    is cropped, inverted or centred (that is `preprocess_image`'s MNIST recipe for digits).
    Transparent pixels are composited on white.

    Args:
        source: file bytes, a Pillow image or an array, as for `preprocess_image`.
        size: (height, width) of the model input.
        channels: 1 (grayscale) or 3 (RGB).

    Raises:
        ImageError: If the source is unreadable or of an absurd size.
        ValueError: If `size` or `channels` is not a model input shape.
    """
    height, width = (int(side) for side in size)
    if height < 1 or width < 1 or channels not in (1, 3):
        raise ValueError(
            f"Expected a positive (height, width) and 1 or 3 channels, got {size} and {channels}."
        )
    image, source_size = _as_image(source)
    image = _shrink(_to_working_mode(image))
    if image.mode == "F":
        image = Image.fromarray(_to_uint8(np.asarray(image)))
    if image.mode == "RGBA":
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, image).convert("RGB")
    steps = [Step(message("predict.step_original"), _to_uint8(np.asarray(image)))]
    resized = image.convert("L" if channels == 1 else "RGB").resize(
        (width, height), Image.Resampling.LANCZOS
    )
    pixels = np.asarray(resized, dtype=np.uint8)
    resized_key = "predict.step_resized_grayscale" if channels == 1 else "predict.step_resized_rgb"
    steps.append(Step(message(resized_key, size=f"{width}×{height}"), pixels))
    values = pixels.astype(np.float32) / 255.0
    return Preprocessed(
        input=values[..., np.newaxis] if channels == 1 else values,
        steps=tuple(steps),
        inverted=False,
        source_size=source_size,
    )


def preparer(kind: str, input_shape: tuple[int, int, int] = (28, 28, 1)):
    """The picture → model-input function of a preprocessing kind, and what it does in words.

    Args:
        kind: "digit" (MNIST-style centring) or "plain" (resize only), as a run records it.
        input_shape: the model's (height, width, channels).
    """
    height, width, channels = (int(side) for side in input_shape)
    if kind == "plain":
        colour = "grayscale" if channels == 1 else "RGB"
        return (
            lambda source: prepare_plain(source, (height, width), channels),
            f"plain resize to {width}×{height} {colour}: the whole picture is stretched to the "
            "model's input, nothing is cropped, inverted or centred (the dataset is not "
            "digit-like)",
        )
    if kind != "digit":
        raise ValueError(f"Expected preprocessing in {PREPROCESSING_KINDS}, got {kind!r}.")
    return (
        preprocess_image,
        f"MNIST-style digit recipe: ink found, cropped, fitted into {BOX_SIZE}×{BOX_SIZE} and "
        f"centred by its centre of mass in {FIELD_SIZE}×{FIELD_SIZE}",
    )
