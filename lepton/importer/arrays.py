"""An .npz of arrays: each array checked from its header, never unpickled, then its contents."""

from __future__ import annotations

import io
import math

import numpy as np

from lepton.i18n import message
from lepton.importer import limits
from lepton.importer.archive import member_count, open_zip, read_member
from lepton.importer.errors import DatasetImportError, Unreadable, reason_of

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_npz(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of an .npz, each checked from its header before a byte is decompressed."""
    count = member_count(data)
    if count > 64:
        raise DatasetImportError(message("importer.npz_too_many_entries", count=f"{count:,}",
                                         keys=", ".join(NPZ_KEYS)))
    archive = open_zip(data)
    budget = limits.Budget()
    present = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
    missing = [key for key in NPZ_KEYS if key not in present]
    if missing:
        raise DatasetImportError(message("importer.npz_missing", keys=", ".join(missing)))
    arrays = {}
    for key in (*NPZ_KEYS, "class_names"):
        if key not in present:
            continue
        try:
            content = read_member(archive, present[key], budget)
        except Unreadable as error:
            raise DatasetImportError(message("importer.npz_unreadable", array=key,
                                             detail=reason_of(error))) from error
        arrays[key] = load_npy(key, content)
    return arrays


def load_npy(key: str, content: bytes) -> np.ndarray:
    """One .npy member, refused if it holds objects or if its header promises more bytes."""
    stream = io.BytesIO(content)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    except (ValueError, OSError, EOFError, SyntaxError) as error:
        raise DatasetImportError(message("importer.not_an_array", array=key,
                                         detail=str(error))) from error
    if dtype.hasobject:
        raise DatasetImportError(message("importer.object_array", array=key, dtype=str(dtype)))
    needed = math.prod(shape) * dtype.itemsize  # Python ints: a crafted shape cannot overflow
    if needed > len(content):
        raise DatasetImportError(message("importer.truncated_array", array=key, shape=str(shape),
                                         dtype=str(dtype), needed=f"{needed:,}",
                                         size=f"{len(content):,}"))
    try:
        return np.load(io.BytesIO(content), allow_pickle=False)
    except ValueError as error:
        raise DatasetImportError(message("importer.unloadable_array", array=key,
                                         detail=str(error))) from error


def npz_classes(raw: dict) -> tuple[str, ...]:
    """The class names, once the labels are checked against the images and each other."""
    for part in ("train", "test"):
        labels = raw[f"y_{part}"]
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DatasetImportError(message("importer.bad_labels", part=part,
                                             shape=str(labels.shape), dtype=str(labels.dtype)))
        if len(labels) != len(raw[f"x_{part}"]):
            raise DatasetImportError(message("importer.label_count", part=part,
                                             images=f"{len(raw[f'x_{part}']):,}",
                                             labels=f"{len(labels):,}"))
        if len(labels) and labels.min() < 0:
            raise DatasetImportError(message("importer.negative_labels", part=part))
    if len(raw["x_train"]) + len(raw["x_test"]) > limits.MAX_IMAGES:
        raise DatasetImportError(message("importer.too_many_images",
                                         limit=f"{limits.MAX_IMAGES:,}"))
    highest = max(int(raw["y_train"].max(initial=0)), int(raw["y_test"].max(initial=0)))
    if "class_names" in raw:
        names = raw["class_names"]
        if names.ndim != 1 or names.dtype.kind not in "US":
            raise DatasetImportError(message("importer.bad_class_names"))
        names = tuple(name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
                      for name in names.tolist())
        if highest >= len(names):
            raise DatasetImportError(message("importer.too_few_class_names", highest=highest,
                                             count=len(names)))
    else:
        names = tuple(str(label) for label in range(highest + 1))
    if len(names) < 2:
        raise DatasetImportError(message("importer.single_class"))
    if len(names) > limits.MAX_CLASSES:
        raise DatasetImportError(message("importer.too_many_classes", count=f"{len(names):,}",
                                         limit=f"{limits.MAX_CLASSES:,}"))
    present = set(raw["y_train"].tolist())
    empty = [name for label, name in enumerate(names) if label not in present]
    if empty:
        raise DatasetImportError(message("importer.class_without_training",
                                         name=repr(empty[0])))
    return names


def npz_images(images: np.ndarray, part: str) -> np.ndarray:
    """Checks x_* and returns uint8 (N, H, W) or (N, H, W, C) pixels 0..255."""
    if images.ndim == 4 and images.shape[-1] in (1, 3, 4):
        pass
    elif images.ndim != 3:
        raise DatasetImportError(message("importer.bad_image_shape", part=part,
                                         shape=str(images.shape)))
    height, width = images.shape[1:3]
    if height * width > limits.MAX_IMAGE_PIXELS or min(height, width) < 1:
        raise DatasetImportError(message("importer.bad_image_size", part=part, height=height,
                                         width=width, limit=f"{limits.MAX_IMAGE_PIXELS:,}"))
    if images.dtype == np.bool_:
        return images.astype(np.uint8) * 255
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise DatasetImportError(message("importer.non_numeric_images", part=part,
                                         dtype=str(images.dtype)))
    if images.dtype == np.uint8:
        return images
    values = images.astype(np.float32)
    if values.size and not np.isfinite(values).all():
        raise DatasetImportError(message("importer.non_finite_images", part=part))
    if values.size and values.min() >= 0.0 and values.max() <= 1.0 and images.dtype.kind == "f":
        values = values * 255.0
    return np.clip(np.round(values), 0, 255).astype(np.uint8)
