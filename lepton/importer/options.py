"""The options of an import: the new dataset's name, input size, channels and split share."""

from __future__ import annotations

from pathlib import Path

from lepton.data import DATASET_NAMES, NAME_PATTERN, custom_manifest
from lepton.i18n import message
from lepton.importer import limits
from lepton.importer.errors import DatasetImportError


def validate_name(name: str, home: str | Path | None = None, overwrite: bool = False) -> str:
    """Checks a new dataset's name; returns it.

    Raises:
        DatasetImportError: bad characters, a built-in name, or taken (unless `overwrite`).
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise DatasetImportError(message("importer.bad_name", name=repr(name)))
    if name in DATASET_NAMES:
        raise DatasetImportError(message("importer.built_in_name", name=repr(name)))
    if not overwrite and custom_manifest(name, home) is not None:
        raise DatasetImportError(message("importer.name_taken", name=repr(name)))
    return name


def check_options(name, home, size, channels, test_fraction, digit_like, overwrite) -> dict:
    """The checked options: home, size, channels, digit_like and the model's input_shape."""
    from lepton.registry import default_home

    home = Path(home or default_home())
    validate_name(name, home, overwrite)
    height, width = (int(side) for side in size)
    low, high = limits.SIDE_RANGE
    if not (low <= height <= high and low <= width <= high):
        raise DatasetImportError(message("importer.bad_size", low=low, high=high,
                                         height=height, width=width))
    if channels not in (1, 3):
        raise DatasetImportError(message("importer.bad_channels", channels=f"{channels}"))
    lowest, highest = limits.TEST_FRACTION_RANGE
    if not lowest <= test_fraction <= highest:
        raise DatasetImportError(message("importer.bad_test_fraction", low=f"{lowest}",
                                         high=f"{highest}", fraction=f"{test_fraction}"))
    if digit_like and ((height, width) != (28, 28) or channels != 1):
        raise DatasetImportError(message("importer.digit_like_shape", height=height,
                                         width=width, channels=channels))
    return {"home": home, "size": (height, width), "channels": channels,
            "digit_like": bool(digit_like), "input_shape": (height, width, channels)}
