"""The imports themselves: read, check, decode, deduplicate, split, then write the dataset."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lepton.i18n import Message, message
from lepton.imaging import ImageError
from lepton.importer import limits
from lepton.importer.archive import open_zip, read_member, scan
from lepton.importer.arrays import npz_classes, npz_images, read_npz
from lepton.importer.errors import DatasetImportError, Unreadable, reason_of
from lepton.importer.layout import layout as find_layout
from lepton.importer.manifest import build_manifest
from lepton.importer.options import check_options
from lepton.importer.pictures import array_input, picture_input
from lepton.importer.source import read_source
from lepton.importer.split import check_classes, given_split, stratified_split
from lepton.importer.writer import write_dataset

Progress = Callable[[float, Message], None]


def import_file(path: str | Path, name: str, **options) -> dict:
    """Imports a `.zip` or `.npz` file by its suffix; see `import_zip` for the options."""
    suffix = Path(path).suffix.lower()
    if suffix == ".zip":
        return import_zip(path, name, **options)
    if suffix == ".npz":
        return import_npz(path, name, **options)
    raise DatasetImportError(message("importer.unknown_suffix", file=repr(Path(path).name)))


def import_zip(
    source: str | Path | bytes,
    name: str,
    home: str | Path | None = None,
    size: tuple[int, int] = (28, 28),
    channels: int = 1,
    test_fraction: float = 0.2,
    seed: int = 0,
    digit_like: bool = False,
    overwrite: bool = False,
    source_name: str | None = None,
    on_progress: Progress | None = None,
) -> dict:
    """Imports a zip of class-named folders of images (`cats/001.png`, `dogs/…`).

    One common top folder (`pets/cats/…`) is skipped; `train/<class>/…` and `test/<class>/…`
    folders give the split, else a seeded stratified split is made. Symbolic links, hidden and
    system files are ignored; unreadable pictures and duplicates (same bytes) are skipped; all
    are counted and named in the manifest.

    Args:
        source: the archive's path or bytes.
        name: the new dataset's name (lower case letters, digits, `-`, `_`).
        home: `LEPTON_HOME`; None uses the default.
        size: (height, width) every picture is resized to.
        channels: 1 (grayscale) or 3 (RGB).
        test_fraction: share of each class held out for testing when the source has no split.
        seed: seed of that split.
        digit_like: prepare pictures with the MNIST digit recipe (28×28×1) instead of a plain
            resize.
        overwrite: replace an imported dataset of the same name.
        source_name: the file name to record (defaults to the path's name).
        on_progress: called with (fraction done, text).

    Returns:
        The manifest (also written next to the arrays).

    Raises:
        DatasetImportError: a refused archive (zip-slip, bomb, too few classes …) or bad options.
    """
    options = check_options(name, home, size, channels, test_fraction, digit_like, overwrite)
    data, source_name = read_source(source, source_name)
    progress = on_progress or (lambda fraction, text: None)
    progress(0.0, message("data.progress_reading_archive"))
    archive = open_zip(data)
    members, folders, ignored = scan(archive)
    layout = find_layout(members, folders, ignored)
    budget = limits.Budget()
    images, labels, parts, duplicates, unreadable = [], [], [], [], []
    seen: dict[str, str] = {}
    for index, (path, info, class_name, part) in enumerate(layout["files"]):
        if index % 16 == 0:
            progress(0.9 * index / len(layout["files"]),
                     message("data.progress_decoding", done=f"{index:,}",
                             total=f"{len(layout['files']):,}"))
        try:
            content = read_member(archive, info, budget)
        except Unreadable as error:
            unreadable.append({"file": path, "reason": str(error)})
            continue
        digest = hashlib.sha256(content).hexdigest()
        if digest in seen:
            duplicates.append({"file": path, "same_as": seen[digest]})
            continue
        seen[digest] = path
        try:
            images.append(picture_input(content, options, budget))
        except ImageError as error:
            unreadable.append({"file": path, "reason": str(error)})
            continue
        labels.append(layout["classes"].index(class_name))
        parts.append(part)
    progress(0.9, message("data.progress_splitting"))
    labels = np.array(labels, dtype=np.int64)
    check_classes(layout["classes"], labels, unreadable, duplicates)
    x = np.stack(images) if images else np.zeros((0, *options["input_shape"]), np.uint8)
    if layout["given_split"]:
        train_index, test_index = given_split(labels, parts, layout["classes"], seed)
        split = message("data.split_folders")
    else:
        train_index, test_index = stratified_split(labels, layout["classes"], test_fraction,
                                                   seed)
        split = message("data.split_seeded", seed=seed, share=f"{test_fraction:.0%}")
    arrays = {
        "x_train": x[train_index], "y_train": labels[train_index],
        "x_test": x[test_index], "y_test": labels[test_index],
        "class_names": np.array(layout["classes"], dtype=str),
    }
    manifest = build_manifest(name, "zip", data, source_name, options, arrays, split,
                              files=len(layout["files"]), duplicates=duplicates,
                              unreadable=unreadable, ignored=ignored)
    write_dataset(options["home"], name, arrays, manifest, overwrite)
    progress(1.0, message("data.progress_done", count=f"{len(labels):,}",
                          classes=len(layout["classes"])))
    return manifest


def import_npz(
    source: str | Path | bytes,
    name: str,
    home: str | Path | None = None,
    size: tuple[int, int] = (28, 28),
    channels: int = 1,
    test_fraction: float = 0.2,
    seed: int = 0,
    digit_like: bool = False,
    overwrite: bool = False,
    source_name: str | None = None,
    on_progress: Progress | None = None,
) -> dict:
    """Imports an `.npz` holding x_train, y_train, x_test, y_test (and optionally class_names).

    Loaded with `allow_pickle=False`: an object array is refused, never unpickled. Images may
    be (N, H, W) or (N, H, W, 1|3|4), integers 0..255 or floats in [0, 1]; labels 0..K−1. The
    given split is kept (`test_fraction` and `seed` only shuffle nothing here); duplicates are
    counted, not removed. Options as for `import_zip`.
    """
    options = check_options(name, home, size, channels, test_fraction, digit_like, overwrite)
    data, source_name = read_source(source, source_name)
    progress = on_progress or (lambda fraction, text: None)
    progress(0.0, message("data.progress_reading_arrays"))
    raw = read_npz(data)
    labels_known = npz_classes(raw)
    budget = limits.Budget()
    arrays, duplicates, seen = {}, [], {}
    total = len(raw["x_train"]) + len(raw["x_test"])
    done = 0
    for part in ("train", "test"):
        images = npz_images(raw[f"x_{part}"], part)
        prepared = []
        for index, image in enumerate(images):
            if done % 256 == 0:
                progress(0.9 * done / total, message("data.progress_preparing", done=f"{done:,}",
                                                     total=f"{total:,}"))
            done += 1
            digest = hashlib.sha256(image.tobytes()).hexdigest()
            where = f"x_{part}[{index}]"
            if digest in seen:
                duplicates.append({"file": where, "same_as": seen[digest]})
            else:
                seen[digest] = where
            try:
                prepared.append(array_input(image, options, budget))
            except ImageError as error:
                raise DatasetImportError(message("importer.array_unprepared", where=where,
                                                 detail=reason_of(error))) from error
        arrays[f"x_{part}"] = (np.stack(prepared) if prepared
                               else np.zeros((0, *options["input_shape"]), np.uint8))
        arrays[f"y_{part}"] = raw[f"y_{part}"].astype(np.int64)
    arrays["class_names"] = np.array(labels_known, dtype=str)
    if len(arrays["y_test"]) == 0:
        raise DatasetImportError(message("importer.empty_test"))
    progress(0.9, message("data.progress_writing"))
    manifest = build_manifest(name, "npz", data, source_name, options, arrays,
                              message("data.split_npz"), files=total,
                              duplicates=duplicates, unreadable=[], ignored=[])
    manifest["duplicates_kept"] = True  # the user's own arrays and split are not changed
    write_dataset(options["home"], name, arrays, manifest, overwrite)
    progress(1.0, message("data.progress_done", count=f"{total:,}", classes=len(labels_known)))
    return manifest
