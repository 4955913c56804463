"""One picture (file bytes or an array) → the uint8 (H, W, C) input the model is trained on."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image

from lepton.i18n import message
from lepton.imaging import ImageError, prepare_plain, preprocess_image
from lepton.importer import limits


def picture_input(content: bytes, options: dict, budget: limits.Budget) -> np.ndarray:
    """File bytes → uint8 (H, W, C) model input (digit recipe or plain resize)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as probe:
                width, height = probe.size
    except Exception:  # let load_image say precisely why it is not a picture
        width = height = 0
    if width * height > limits.MAX_IMAGE_PIXELS:
        raise ImageError(message("importer.picture_too_large", width=width, height=height,
                                 pixels=f"{width * height:,}",
                                 limit=f"{limits.MAX_IMAGE_PIXELS:,}"))
    budget.spend_pixels(width * height)
    return to_input(content, options)


def array_input(image: np.ndarray, options: dict, budget: limits.Budget) -> np.ndarray:
    """A checked uint8 (H, W) or (H, W, C) array → uint8 (H, W, C) model input."""
    budget.spend_pixels(image.shape[0] * image.shape[1])
    if image.ndim == 2:
        image = image[..., np.newaxis]
    if not options["digit_like"] and image.shape == options["input_shape"]:
        return image  # already the model's input: no resampling
    return to_input(image, options)


def to_input(source, options: dict) -> np.ndarray:
    if options["digit_like"]:
        values = preprocess_image(source).input
    else:
        values = prepare_plain(source, options["size"], options["channels"]).input
    return np.round(values * 255.0).astype(np.uint8)
