"""Finding the ink: background level and noise, which way round the picture is, the crop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from lepton.i18n import message
from lepton.imaging.pixels import MIN_INK_CONTRAST
from lepton.imaging.refusals import ImageError

BORDER_FRACTION = 0.05  # the outer ring that tells us the background colour
SPECK_FRACTION = 0.01  # ink blobs lighter than this share of the largest blob are dust
_LEVELS = np.arange(256, dtype=np.float32)  # every level of a uint8 picture
_LEVELS.setflags(write=False)  # shared by every thread
_EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)  # diagonal pixels touch: one blob per stroke


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
        counts = _level_counts(pixels) if pixels.dtype == np.uint8 else None
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


def _level_counts(pixels: np.ndarray) -> np.ndarray:
    """How many uint8 pixels hold each level 0..255."""
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape if pixels.ndim == 2 else (1, pixels.size)
    # Pillow counts about twice as fast as np.bincount, which widens every pixel to 64 bits;
    # frombuffer reads the array in place where fromarray would copy it.
    image = Image.frombuffer("L", (width, height), pixels, "raw", "L", 0, 1)
    return np.asarray(image.histogram(), dtype=np.int64)


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
        border, counts = _LEVELS, _level_counts(border)
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
    labels, count = ndimage.label(has_ink[box], structure=_EIGHT_NEIGHBOURS)
    ink = to_ink(pixels[box])
    if count <= 1:
        return ink, box
    masses = np.bincount(labels.ravel(), weights=ink.ravel(), minlength=count + 1)
    keep = masses >= SPECK_FRACTION * masses[1:].max()
    keep[0] = False  # label 0 is the background between the blobs
    ink = np.where(keep[labels], ink, 0.0).astype(np.float32)
    inner = _span(ink > 0)
    box = tuple(slice(outer.start + part.start, outer.start + part.stop)
                for outer, part in zip(box, inner))
    return ink[inner], box


def _span(mask: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns from the first to the last True pixel."""
    rows = np.flatnonzero(mask.any(axis=1))
    rows = slice(rows[0], rows[-1] + 1)
    columns = np.flatnonzero(mask[rows].any(axis=0))  # only the rows with ink: less to read
    return rows, slice(columns[0], columns[-1] + 1)
