"""Any picture → a 28×28 MNIST-style model input, keeping every intermediate step for display.

The recipe is MNIST's own: find the ink, crop to it, fit it into a 20×20 box keeping the aspect
ratio, then place it in a 28×28 field so that its centre of mass sits at the centre.

Modules: `refusals` (ImageError), `decoding` (bytes → picture, size limits), `pixels` (working
pixels), `ink` (background and crop), `framing` (the 20×20 box in the 28×28 field) and
`pipelines` (`preprocess_image`, `with_colour_original`, `prepare_plain`, `preparer`).
"""

# `name as name`: private helpers that tests/test_imaging.py and benchmarks/uploads.py read here.
from lepton.imaging.decoding import MAX_PIXELS, load_image
from lepton.imaging.decoding import _decode as _decode
from lepton.imaging.decoding import _open as _open
from lepton.imaging.framing import BOX_SIZE, FIELD_SIZE
from lepton.imaging.framing import _centre_by_mass as _centre_by_mass
from lepton.imaging.framing import _fit_to_box as _fit_to_box
from lepton.imaging.ink import SPECK_FRACTION
from lepton.imaging.ink import _border_pixels as _border_pixels
from lepton.imaging.ink import _median as _median
from lepton.imaging.pipelines import (
    Preprocessed,
    Step,
    prepare_plain,
    preparer,
    preprocess_image,
    with_colour_original,
)
from lepton.imaging.pixels import MIN_INK_CONTRAST, TRANSPARENT_FRACTION
from lepton.imaging.pixels import _spread_of as _spread_of
from lepton.imaging.pixels import _to_uint8 as _to_uint8
from lepton.imaging.pixels import _to_working_mode as _to_working_mode
from lepton.imaging.refusals import ImageError

__all__ = [
    "BOX_SIZE",
    "FIELD_SIZE",
    "MAX_PIXELS",
    "MIN_INK_CONTRAST",
    "SPECK_FRACTION",
    "TRANSPARENT_FRACTION",
    "ImageError",
    "Preprocessed",
    "Step",
    "load_image",
    "prepare_plain",
    "preparer",
    "preprocess_image",
    "with_colour_original",
]
