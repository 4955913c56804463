"""The error a picture that cannot become a model input raises, and its shared messages."""

from __future__ import annotations

from lepton.i18n import message

SUPPORTED_FORMATS = "PNG, JPEG, GIF, BMP, TIFF or WebP"


class ImageError(ValueError):
    """The picture cannot be turned into a model input; the message (a `Message` for what a
    user can cause) says how to fix it."""


def _damaged_error(error: Exception) -> ImageError:
    return ImageError(message("imaging.damaged", detail=str(error), formats=SUPPORTED_FORMATS))
