"""File bytes, Pillow images and canvas arrays → an upright picture, within the size limits."""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from lepton.i18n import message
from lepton.imaging.refusals import SUPPORTED_FORMATS, ImageError, _damaged_error

MAX_PIXELS = 25_000_000  # well below Pillow's decompression-bomb limit
# Larger pictures are box-reduced first: the digit ends up 20 px tall, and 0.25 MP gave the same
# predictions as 2 MP on 300 photos and scans (BENCHMARKS.md) at a third of the time.
WORKING_MAX_PIXELS = 250_000
# A large JPEG is decoded at 1/2, 1/4 or 1/8 scale (Image.draft) keeping at least this many
# pixels: never under half the resolution (per side) that box-reducing to WORKING_MAX_PIXELS
# keeps, and the same size as it for 2–8 MP and 18–25 MP pictures.
DRAFT_MIN_PIXELS = WORKING_MAX_PIXELS // 4
# The digit recipe first decodes a JPEG at half that resolution per side, and again at
# DRAFT_MIN_PIXELS when the ink found is small (pipelines.MIN_INK_SIDE): a 0.1–0.5 MP photo
# is then decoded and measured at 1/2 or 1/4 scale.
COARSE_DRAFT_MIN_PIXELS = DRAFT_MIN_PIXELS // 4
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)
_ROTATING_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that swap width and height


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


def _as_image(
    source: bytes | Image.Image | np.ndarray, luma: bool = False,
    min_pixels: int = DRAFT_MIN_PIXELS,
) -> tuple[Image.Image, tuple[int, int]]:
    """Any accepted source → a decoded, upright, first-frame Pillow image and its full size.

    File bytes of a large JPEG are decoded at reduced size (keeping `min_pixels`), and with
    `luma` a colour JPEG straight to its luminance ("L"); a Pillow image is the caller's and
    is decoded in full.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode(_open(bytes(source)), draft=True, luma=luma, min_pixels=min_pixels)
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


def draft_scale(width: int, height: int, min_pixels: int = DRAFT_MIN_PIXELS) -> int:
    """The JPEG decoding scale, 1, 2, 4 or 8, that keeps at least `min_pixels` pixels."""
    scale = 1
    while scale < 8 and width * height > min_pixels * (2 * scale) ** 2:
        scale *= 2
    return scale


def _decode(
    image: Image.Image, draft: bool = False, luma: bool = False,
    min_pixels: int = DRAFT_MIN_PIXELS,
) -> tuple[Image.Image, tuple[int, int]]:
    """Loads the first frame's pixels and applies the EXIF orientation.

    Args:
        image: An opened picture; it is loaded, and with `draft` reconfigured, in place.
        draft: Decode a large JPEG at 1/2, 1/4 or 1/8 scale, keeping `min_pixels`.
        luma: Decode a colour JPEG to its luminance only ("L"), for a caller that reads no
            colour.
        min_pixels: What a drafted picture keeps at least.

    Returns:
        The upright picture, and its (width, height) before the draft reduced it.
    """
    try:
        image.seek(0)
        width, height = image.size
        scale = draft_scale(width, height, min_pixels) if draft else 1
        # A JPEG stores luminance as its own channel (Y, the very weights of convert("L")):
        # decoding only it skips the chroma's inverse DCT, upsampling and colour conversion.
        mode = "L" if luma and image.format == "JPEG" and image.mode == "RGB" else image.mode
        if scale > 1 or mode != image.mode:  # only JPEG decoders draft; others ignore it
            image.draft(mode, (max(1, width // scale), max(1, height // scale)))
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
