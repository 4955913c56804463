"""Bring your own data: a zip of class folders or an .npz of arrays → a checked, stored dataset.

Nothing is ever extracted to disk. Zip members are read into memory with bounded reads (the
declared sizes are checked first, then the bytes actually read are counted, because headers can
lie), decoded with Pillow, resized, deduplicated by content hash and split; the result is one
compressed `.npz` plus a JSON manifest under `LEPTON_HOME/datasets/`, both written atomically
(temporary file in the same folder, then `os.replace`), so a failed import leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import stat
import struct
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from lepton.data import DATASET_NAMES, NAME_PATTERN, custom_manifest, datasets_folder
from lepton.i18n import Message, message
from lepton.imaging import ImageError, prepare_plain, preprocess_image

MAX_UPLOAD_BYTES = 20 * 2**20  # the app's limit; .streamlit/config.toml maxUploadSize = 20 (MB)
MAX_SOURCE_BYTES = 200 * 2**20  # a file imported from the command line
MAX_MEMBERS = 20_000  # zip entries (files and folders), read from the end record before parsing
MAX_TOTAL_BYTES = 512 * 2**20  # uncompressed bytes read from one archive, declared and actual
MAX_MEMBER_BYTES = 32 * 2**20  # one image file
MAX_IMAGE_PIXELS = 4_000_000  # one picture (2000×2000); lepton.imaging allows 25 M for uploads
MAX_TOTAL_PIXELS = 400_000_000  # decoded pixels of one import: bounds the CPU a zip can cost
MAX_IMAGES = 100_000  # images of an .npz (Fashion-MNIST has 70,000)
MAX_CLASSES = 1_000
SIDE_RANGE = (8, 128)  # input height/width; 28 is MNIST's, 32 CIFAR's
TEST_FRACTION_RANGE = (0.05, 0.5)
MAX_LISTED = 100  # duplicates/unreadable/ignored files named in a manifest (all are counted)
SPLIT_FOLDERS = ("train", "test")
SYSTEM_FILES = {"thumbs.db", "desktop.ini", "__macosx"}
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

Progress = Callable[[float, Message], None]


class DatasetImportError(ValueError):
    """The file cannot become a dataset; the message says why and what to do."""


# --- Entry points ---------------------------------------------------------------------------


def import_file(path: str | Path, name: str, **options) -> dict:
    """Imports a `.zip` or `.npz` file by its suffix; see `import_zip` for the options."""
    suffix = Path(path).suffix.lower()
    if suffix == ".zip":
        return import_zip(path, name, **options)
    if suffix == ".npz":
        return import_npz(path, name, **options)
    raise DatasetImportError(
        f"Expected a .zip of class folders or an .npz of arrays, got {Path(path).name!r}."
    )


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
    options = _check_options(name, home, size, channels, test_fraction, digit_like, overwrite)
    data, source_name = _read_source(source, source_name)
    progress = on_progress or (lambda fraction, text: None)
    progress(0.0, message("data.progress_reading_archive"))
    archive = _open_zip(data)
    members, folders, ignored = _scan(archive)
    layout = _layout(members, folders, ignored)
    budget = _Budget()
    images, labels, parts, duplicates, unreadable = [], [], [], [], []
    seen: dict[str, str] = {}
    for index, (path, info, class_name, part) in enumerate(layout["files"]):
        if index % 16 == 0:
            progress(0.9 * index / len(layout["files"]),
                     message("data.progress_decoding", done=f"{index:,}",
                             total=f"{len(layout['files']):,}"))
        try:
            content = _read_member(archive, info, budget)
        except _Unreadable as error:
            unreadable.append({"file": path, "reason": str(error)})
            continue
        digest = hashlib.sha256(content).hexdigest()
        if digest in seen:
            duplicates.append({"file": path, "same_as": seen[digest]})
            continue
        seen[digest] = path
        try:
            images.append(_picture_input(content, options, budget))
        except ImageError as error:
            unreadable.append({"file": path, "reason": str(error)})
            continue
        labels.append(layout["classes"].index(class_name))
        parts.append(part)
    progress(0.9, message("data.progress_splitting"))
    labels = np.array(labels, dtype=np.int64)
    _check_classes(layout["classes"], labels, unreadable, duplicates)
    x = np.stack(images) if images else np.zeros((0, *options["input_shape"]), np.uint8)
    if layout["given_split"]:
        is_test = np.array([part == "test" for part in parts])
        train_index, test_index = np.flatnonzero(~is_test), np.flatnonzero(is_test)
        train_index = np.random.default_rng(seed).permutation(train_index)
        split = message("data.split_folders")
        missing = [layout["classes"][label] for label in range(len(layout["classes"]))
                   if label not in labels[train_index]]
        if missing:
            raise DatasetImportError(
                f"Class {missing[0]!r} has no readable training images in train/. Add some, or "
                "drop the train/ and test/ folders to let Lepton split the data."
            )
    else:
        train_index, test_index = _stratified_split(labels, layout["classes"], test_fraction,
                                                    seed)
        split = message("data.split_seeded", seed=seed, share=f"{test_fraction:.0%}")
    arrays = {
        "x_train": x[train_index], "y_train": labels[train_index],
        "x_test": x[test_index], "y_test": labels[test_index],
        "class_names": np.array(layout["classes"], dtype=str),
    }
    manifest = _manifest(name, "zip", data, source_name, options, arrays, split,
                         files=len(layout["files"]), duplicates=duplicates,
                         unreadable=unreadable, ignored=ignored)
    _write(options["home"], name, arrays, manifest, overwrite)
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
    options = _check_options(name, home, size, channels, test_fraction, digit_like, overwrite)
    data, source_name = _read_source(source, source_name)
    progress = on_progress or (lambda fraction, text: None)
    progress(0.0, message("data.progress_reading_arrays"))
    raw = _read_npz(data)
    labels_known = _npz_classes(raw)
    budget = _Budget()
    arrays, duplicates, seen = {}, [], {}
    total = len(raw["x_train"]) + len(raw["x_test"])
    done = 0
    for part in ("train", "test"):
        images = _npz_images(raw[f"x_{part}"], part)
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
                prepared.append(_array_input(image, options, budget))
            except ImageError as error:
                raise DatasetImportError(f"{where} cannot be prepared: {error}") from error
        arrays[f"x_{part}"] = (np.stack(prepared) if prepared
                               else np.zeros((0, *options["input_shape"]), np.uint8))
        arrays[f"y_{part}"] = raw[f"y_{part}"].astype(np.int64)
    arrays["class_names"] = np.array(labels_known, dtype=str)
    if len(arrays["y_test"]) == 0:
        raise DatasetImportError("x_test is empty: add test images so accuracy can be measured.")
    progress(0.9, message("data.progress_writing"))
    manifest = _manifest(name, "npz", data, source_name, options, arrays,
                         message("data.split_npz"), files=total,
                         duplicates=duplicates, unreadable=[], ignored=[])
    manifest["duplicates_kept"] = True  # the user's own arrays and split are not changed
    _write(options["home"], name, arrays, manifest, overwrite)
    progress(1.0, message("data.progress_done", count=f"{total:,}", classes=len(labels_known)))
    return manifest


def check_upload_size(size_bytes: int, limit: int = MAX_UPLOAD_BYTES) -> None:
    """The server-side check of an upload's size (the browser's check can be bypassed).

    Raises:
        DatasetImportError: `size_bytes` is above `limit`.
    """
    if size_bytes > limit:
        raise DatasetImportError(
            f"The file is {size_bytes / 2**20:,.1f} MB, above the {limit / 2**20:,.0f} MB upload "
            "limit. Import it from the command line instead: python -m lepton datasets import "
            "PATH --name NAME."
        )


def validate_name(name: str, home: str | Path | None = None, overwrite: bool = False) -> str:
    """Checks a new dataset's name; returns it.

    Raises:
        DatasetImportError: bad characters, a built-in name, or taken (unless `overwrite`).
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise DatasetImportError(
            f"Expected a dataset name of 1 to 40 lower-case letters, digits, '-' or '_' starting "
            f"with a letter or digit, got {name!r}. For example: pets-32."
        )
    if name in DATASET_NAMES:
        raise DatasetImportError(f"{name!r} is a built-in dataset's name. Choose another name.")
    if not overwrite and custom_manifest(name, home) is not None:
        raise DatasetImportError(
            f"A dataset named {name!r} already exists. Choose another name, delete it first, or "
            "allow overwriting."
        )
    return name


# --- Options and sources --------------------------------------------------------------------


def _check_options(name, home, size, channels, test_fraction, digit_like, overwrite) -> dict:
    from lepton.registry import default_home

    home = Path(home or default_home())
    validate_name(name, home, overwrite)
    height, width = (int(side) for side in size)
    low, high = SIDE_RANGE
    if not (low <= height <= high and low <= width <= high):
        raise DatasetImportError(f"Expected an input size between {low} and {high} pixels per "
                                 f"side, got {height}×{width}.")
    if channels not in (1, 3):
        raise DatasetImportError(f"Expected 1 (grayscale) or 3 (RGB) channels, got {channels}.")
    if not TEST_FRACTION_RANGE[0] <= test_fraction <= TEST_FRACTION_RANGE[1]:
        raise DatasetImportError(f"Expected a test fraction in {TEST_FRACTION_RANGE[0]}.."
                                 f"{TEST_FRACTION_RANGE[1]}, got {test_fraction}.")
    if digit_like and ((height, width) != (28, 28) or channels != 1):
        raise DatasetImportError(
            f"Digit-like data is prepared with the MNIST recipe, which makes 28×28 grayscale "
            f"inputs; got {height}×{width} with {channels} channels. Choose 28×28 and 1 channel, "
            "or untick digit-like for a plain resize."
        )
    return {"home": home, "size": (height, width), "channels": channels,
            "digit_like": bool(digit_like), "input_shape": (height, width, channels)}


def _read_source(source, source_name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        source_name = source_name or "upload"
    else:
        path = Path(source)
        if not path.is_file():
            raise DatasetImportError(f"{path} is not a file.")
        if path.stat().st_size > MAX_SOURCE_BYTES:
            raise DatasetImportError(
                f"{path.name} is {path.stat().st_size / 2**20:,.0f} MB, above the "
                f"{MAX_SOURCE_BYTES / 2**20:,.0f} MB limit. Import a smaller selection."
            )
        data = path.read_bytes()
        source_name = source_name or path.name
    if len(data) > MAX_SOURCE_BYTES:
        raise DatasetImportError(f"The file is above the {MAX_SOURCE_BYTES / 2**20:,.0f} MB "
                                 "limit. Import a smaller selection.")
    if not data:
        raise DatasetImportError("The file is empty (0 bytes).")
    return data, source_name


class _Budget:
    """Counts bytes actually read and pixels actually decoded across one import."""

    def __init__(self):
        self.bytes = 0
        self.pixels = 0

    def spend_bytes(self, count: int) -> None:
        self.bytes += count
        if self.bytes > MAX_TOTAL_BYTES:
            raise DatasetImportError(
                f"Refused: the archive unpacks to more than {MAX_TOTAL_BYTES / 2**20:,.0f} MB "
                "(a zip bomb, or simply too much). Import fewer or smaller pictures."
            )

    def spend_pixels(self, count: int) -> None:
        self.pixels += count
        if self.pixels > MAX_TOTAL_PIXELS:
            raise DatasetImportError(
                f"Refused: the pictures decode to more than {MAX_TOTAL_PIXELS:,} pixels in "
                "total. Downscale them (e.g. to 256 px on the long side) before zipping."
            )


class _Unreadable(Exception):
    """One member cannot be read; it is skipped and reported."""


# --- Zip archives ---------------------------------------------------------------------------


def _member_count(data: bytes) -> int:
    """Entries announced by the end-of-central-directory record, before any parsing.

    `zipfile` builds one object per entry, so an archive of millions of empty entries would cost
    memory before a count could be checked; the end record holds the count in a few bytes.
    """
    position = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if position < 0 or position + 22 > len(data):
        raise DatasetImportError("This is not a zip archive (no end record). Zip the folder of "
                                 "class folders again, e.g. with `zip -r data.zip cats dogs`.")
    count = struct.unpack_from("<H", data, position + 10)[0]
    if count != 0xFFFF:
        return count
    locator = position - 20  # zip64: the count is in the zip64 end record the locator points to
    if locator < 0 or data[locator:locator + 4] != b"PK\x06\x07":
        return count
    record = struct.unpack_from("<Q", data, locator + 8)[0]
    if record + 40 > len(data) or data[record:record + 4] != b"PK\x06\x06":
        raise DatasetImportError("The zip archive's zip64 end record is damaged.")
    return struct.unpack_from("<Q", data, record + 32)[0]


def _open_zip(data: bytes) -> zipfile.ZipFile:
    count = _member_count(data)
    if count > MAX_MEMBERS:
        raise DatasetImportError(
            f"Refused: the archive has {count:,} entries, more than the {MAX_MEMBERS:,} allowed "
            "(a zip bomb, or simply too much). Import fewer pictures."
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, struct.error) as error:
        raise DatasetImportError(f"The zip archive cannot be read: {error}.") from error
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise DatasetImportError(f"Refused: the archive has {len(infos):,} entries, more than "
                                 f"the {MAX_MEMBERS:,} allowed.")
    declared = sum(info.file_size for info in infos)
    if declared > MAX_TOTAL_BYTES:
        raise DatasetImportError(
            f"Refused: the archive declares {declared / 2**20:,.0f} MB of content, more than the "
            f"{MAX_TOTAL_BYTES / 2**20:,.0f} MB allowed (a zip bomb, or simply too much)."
        )
    return archive


def _unsafe(path: str) -> bool:
    """Absolute paths, drive letters and `..` components: names that reach outside the target."""
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return True
    return any(part == ".." for part in path.split("/"))


def _scan(archive: zipfile.ZipFile):
    """Files (path parts, info), folder entries and ignored entries; refuses zip-slip names."""
    infos = archive.infolist()
    for info in infos:
        path = info.filename.replace("\\", "/")
        if _unsafe(path) or "\x00" in path:
            raise DatasetImportError(
                f"Refused: the archive member {info.filename!r} points outside the archive "
                "(absolute path or '..'), a zip-slip attack. Nothing was written. Zip the "
                "folders with relative paths, e.g. `zip -r data.zip cats dogs`."
            )
    members, folders, ignored = [], [], []
    for info in infos:
        path = info.filename.replace("\\", "/")
        parts = [part for part in path.split("/") if part not in ("", ".")]
        if not parts:
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            ignored.append({"file": path, "reason": "symbolic link (ignored: it could point "
                                                    "anywhere)"})
            continue
        if any(part.startswith(".") or part.lower() in SYSTEM_FILES for part in parts):
            if not info.is_dir():
                ignored.append({"file": path, "reason": "hidden or system file"})
            continue
        if info.is_dir():
            folders.append(parts)
        else:
            members.append((path, parts, info))
    return members, folders, ignored


def _layout(members, folders, ignored) -> dict:
    """Which member belongs to which class (and part); refuses a single or an empty class."""
    paths = [parts for _, parts, _ in members]
    depth = 0  # skip common top folders: zipping the folder "pets" gives pets/cats/…
    while (paths and all(len(parts) > depth + 1 for parts in paths)
           and len({parts[depth] for parts in paths}) == 1
           and any(len(parts) >= depth + 3 for parts in paths)):
        depth += 1
    prefix = paths[0][:depth] if paths else []
    tops = {parts[depth].lower() for parts in paths if len(parts) > depth + 1}
    given_split = tops == set(SPLIT_FOLDERS) and all(len(parts) >= depth + 3 for parts in paths
                                                     if len(parts) > depth + 1)
    class_at = depth + 1 if given_split else depth
    files, classes = [], set()
    for path, parts, info in members:
        if len(parts) <= class_at + 1:
            ignored.append({"file": path, "reason": "not inside a class folder"})
            continue
        part = parts[depth].lower() if given_split else "all"
        files.append((path, info, parts[class_at], part))
        classes.add(parts[class_at])
    for parts in folders:  # a class folder without any file is an empty class
        if len(parts) == class_at + 1 and parts[:depth] == prefix:
            classes.add(parts[class_at])
    classes = sorted(classes)
    if not classes:
        raise DatasetImportError(
            "No pictures inside class folders found. Expected one folder per class, e.g. "
            "cats/001.png and dogs/001.png, zipped together."
        )
    if len(classes) == 1:
        raise DatasetImportError(
            f"Found a single class ({classes[0]!r}): a classifier needs at least two. Put each "
            "class's pictures in its own folder, e.g. cats/… and dogs/…, and zip them together."
        )
    if len(classes) > MAX_CLASSES:
        raise DatasetImportError(f"Found {len(classes):,} class folders, more than the "
                                 f"{MAX_CLASSES:,} allowed. Is every picture in its own folder?")
    counts = {name: 0 for name in classes}
    for _, _, class_name, _ in files:
        counts[class_name] += 1
    empty = [name for name, count in counts.items() if count == 0]
    if empty:
        raise DatasetImportError(
            f"Class folder {empty[0]!r} is empty. Add pictures to it or remove the folder."
        )
    return {"files": files, "classes": classes, "given_split": given_split}


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget) -> bytes:
    """The member's bytes, reading at most its declared size (+1 to catch a lying header)."""
    if info.file_size > MAX_MEMBER_BYTES:
        raise _Unreadable(f"{info.file_size / 2**20:,.0f} MB is above the "
                          f"{MAX_MEMBER_BYTES / 2**20:,.0f} MB allowed per picture")
    if info.flag_bits & 0x1:
        raise _Unreadable("encrypted (zip without a password)")
    try:
        with archive.open(info) as stream:
            content = stream.read(info.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError,
            EOFError) as error:
        raise _Unreadable(f"damaged archive member: {error}") from error
    budget.spend_bytes(len(content))
    if len(content) > info.file_size:
        raise DatasetImportError(
            f"Refused: {info.filename!r} holds more bytes than its header declares (a crafted "
            "archive). Nothing was written."
        )
    return content


def _picture_input(content: bytes, options: dict, budget: _Budget) -> np.ndarray:
    """File bytes → uint8 (H, W, C) model input (digit recipe or plain resize)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as probe:
                width, height = probe.size
    except Exception:  # let load_image say precisely why it is not a picture
        width = height = 0
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(f"{width}×{height} = {width * height:,} pixels is above the "
                         f"{MAX_IMAGE_PIXELS:,} allowed per picture in a dataset")
    budget.spend_pixels(width * height)
    return _to_input(content, options)


def _to_input(source, options: dict) -> np.ndarray:
    if options["digit_like"]:
        values = preprocess_image(source).input
    else:
        values = prepare_plain(source, options["size"], options["channels"]).input
    return np.round(values * 255.0).astype(np.uint8)


def _check_classes(classes, labels, unreadable, duplicates) -> None:
    for label, class_name in enumerate(classes):
        count = int(np.sum(labels == label))
        if count == 0:
            raise DatasetImportError(
                f"Class {class_name!r} has no readable pictures ({len(unreadable)} unreadable, "
                f"{len(duplicates)} duplicates in the archive). Add readable PNG/JPEG pictures."
            )


def _stratified_split(labels, classes, test_fraction: float, seed: int):
    """Per class: shuffle (seeded), hold out round(n × fraction) ≥ 1 for testing, keep ≥ 1."""
    generator = np.random.default_rng(seed)
    train, test = [], []
    for label, class_name in enumerate(classes):
        indices = generator.permutation(np.flatnonzero(labels == label))
        if len(indices) < 2:
            raise DatasetImportError(
                f"Class {class_name!r} has {len(indices)} usable picture; at least 2 are needed "
                "(one to train, one to test). Add pictures to it."
            )
        held_out = min(max(1, round(len(indices) * test_fraction)), len(indices) - 1)
        test.extend(indices[:held_out])
        train.extend(indices[held_out:])
    # Shuffled: Keras takes its validation split from the end of the training arrays.
    return generator.permutation(np.array(train)), generator.permutation(np.array(test))


# --- .npz arrays ----------------------------------------------------------------------------


def _read_npz(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of an .npz, each checked from its header before a byte is decompressed."""
    count = _member_count(data)
    if count > 64:
        raise DatasetImportError(f"Refused: the .npz has {count:,} entries; expected "
                                 f"{', '.join(NPZ_KEYS)} and optionally class_names.")
    archive = _open_zip(data)
    budget = _Budget()
    present = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
    missing = [key for key in NPZ_KEYS if key not in present]
    if missing:
        raise DatasetImportError(
            f"The .npz lacks {', '.join(missing)}. Save it with np.savez_compressed(path, "
            "x_train=…, y_train=…, x_test=…, y_test=…, class_names=…)."
        )
    arrays = {}
    for key in (*NPZ_KEYS, "class_names"):
        if key not in present:
            continue
        try:
            content = _read_member(archive, present[key], budget)
        except _Unreadable as error:
            raise DatasetImportError(f"{key} cannot be read: {error}.") from error
        arrays[key] = _load_npy(key, content)
    return arrays


def _load_npy(key: str, content: bytes) -> np.ndarray:
    stream = io.BytesIO(content)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    except (ValueError, OSError, EOFError, SyntaxError) as error:
        raise DatasetImportError(f"{key} is not a NumPy array: {error}") from error
    if dtype.hasobject:
        raise DatasetImportError(
            f"Refused: {key} holds Python objects (dtype {dtype}). Lepton loads .npz files with "
            "allow_pickle=False because unpickling can run code. Save numbers, and class names "
            "as a plain string array, e.g. np.array(['cat', 'dog'])."
        )
    needed = math.prod(shape) * dtype.itemsize  # Python ints: a crafted shape cannot overflow
    if needed > len(content):
        raise DatasetImportError(f"{key} is truncated: its header says {shape} {dtype}, which "
                                 f"needs {needed:,} bytes; the file holds {len(content):,}.")
    try:
        return np.load(io.BytesIO(content), allow_pickle=False)
    except ValueError as error:
        raise DatasetImportError(f"{key} cannot be loaded (allow_pickle=False): {error}") from error


def _npz_classes(raw: dict) -> tuple[str, ...]:
    for part in ("train", "test"):
        labels = raw[f"y_{part}"]
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DatasetImportError(f"Expected y_{part} to be a 1-D integer array of class "
                                     f"indices, got shape {labels.shape} dtype {labels.dtype}.")
        if len(labels) != len(raw[f"x_{part}"]):
            raise DatasetImportError(f"x_{part} has {len(raw[f'x_{part}']):,} images but "
                                     f"y_{part} has {len(labels):,} labels.")
        if len(labels) and labels.min() < 0:
            raise DatasetImportError(f"y_{part} holds negative labels; expected 0..K−1.")
    if len(raw["x_train"]) + len(raw["x_test"]) > MAX_IMAGES:
        raise DatasetImportError(f"Refused: more than {MAX_IMAGES:,} images.")
    highest = max(int(raw["y_train"].max(initial=0)), int(raw["y_test"].max(initial=0)))
    if "class_names" in raw:
        names = raw["class_names"]
        if names.ndim != 1 or names.dtype.kind not in "US":
            raise DatasetImportError("Expected class_names as a 1-D array of strings.")
        names = tuple(name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
                      for name in names.tolist())
        if highest >= len(names):
            raise DatasetImportError(f"The labels go up to {highest}, but class_names has only "
                                     f"{len(names)} names.")
    else:
        names = tuple(str(label) for label in range(highest + 1))
    if len(names) < 2:
        raise DatasetImportError("Found a single class: a classifier needs at least two.")
    if len(names) > MAX_CLASSES:
        raise DatasetImportError(f"Found {len(names):,} classes, more than the "
                                 f"{MAX_CLASSES:,} allowed.")
    present = set(raw["y_train"].tolist())
    empty = [name for label, name in enumerate(names) if label not in present]
    if empty:
        raise DatasetImportError(f"Class {empty[0]!r} has no training images in y_train. Add "
                                 "some or drop the class from class_names.")
    return names


def _npz_images(images: np.ndarray, part: str) -> np.ndarray:
    """Checks x_* and returns uint8 (N, H, W) or (N, H, W, C) pixels 0..255."""
    if images.ndim == 4 and images.shape[-1] in (1, 3, 4):
        pass
    elif images.ndim != 3:
        raise DatasetImportError(f"Expected x_{part} of shape (N, H, W) or (N, H, W, 1|3|4), "
                                 f"got {images.shape}.")
    height, width = images.shape[1:3]
    if height * width > MAX_IMAGE_PIXELS or min(height, width) < 1:
        raise DatasetImportError(f"x_{part} images are {height}×{width}; expected 1 to "
                                 f"{MAX_IMAGE_PIXELS:,} pixels each.")
    if images.dtype == np.bool_:
        return images.astype(np.uint8) * 255
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise DatasetImportError(f"Expected numeric x_{part}, got dtype {images.dtype}.")
    if images.dtype == np.uint8:
        return images
    values = images.astype(np.float32)
    if values.size and not np.isfinite(values).all():
        raise DatasetImportError(f"x_{part} holds NaN or infinite values.")
    if values.size and values.min() >= 0.0 and values.max() <= 1.0 and images.dtype.kind == "f":
        values = values * 255.0
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


def _array_input(image: np.ndarray, options: dict, budget: _Budget) -> np.ndarray:
    budget.spend_pixels(image.shape[0] * image.shape[1])
    if image.ndim == 2:
        image = image[..., np.newaxis]
    if not options["digit_like"] and image.shape == options["input_shape"]:
        return image  # already the model's input: no resampling
    return _to_input(image, options)


# --- Writing --------------------------------------------------------------------------------


def _manifest(name, kind, data, source_name, options, arrays, split, files, duplicates,
              unreadable, ignored) -> dict:
    classes = [str(value) for value in arrays["class_names"].tolist()]
    per_class = {
        class_name: {"train": int(np.sum(arrays["y_train"] == label)),
                     "test": int(np.sum(arrays["y_test"] == label))}
        for label, class_name in enumerate(classes)
    }
    return {
        "name": name,
        "format": 1,
        "kind": kind,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "source_file": Path(source_name).name[:200],
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "source_bytes": len(data),
        "input_shape": list(options["input_shape"]),
        "preprocessing": "digit" if options["digit_like"] else "plain",
        "classes": classes,
        "counts": {"train": int(len(arrays["y_train"])), "test": int(len(arrays["y_test"])),
                   "per_class": per_class, "files": int(files),
                   "duplicates": len(duplicates), "unreadable": len(unreadable),
                   "ignored": len(ignored)},
        "split": str(split),  # in English; "split_message" shows it in any language
        "split_message": split.to_dict(),
        "duplicates": duplicates[:MAX_LISTED],
        "unreadable": unreadable[:MAX_LISTED],
        "ignored": ignored[:MAX_LISTED],
    }


def _write(home: Path, name: str, arrays: dict, manifest: dict, overwrite: bool) -> None:
    """Writes <name>.npz then <name>.json (the manifest makes the dataset exist), atomically."""
    folder = datasets_folder(home)
    folder.mkdir(parents=True, exist_ok=True)
    targets = {"npz": folder / f"{name}.npz", "json": folder / f"{name}.json"}
    temporary: list[Path] = []
    replaced_arrays = False
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{name}.", suffix=".npz.tmp",
                                         delete=False) as handle:
            temporary.append(Path(handle.name))
            np.savez_compressed(handle, **arrays)
        manifest["data_file"] = targets["npz"].name
        manifest["data_bytes"] = temporary[0].stat().st_size
        with tempfile.NamedTemporaryFile("w", dir=folder, prefix=f".{name}.",
                                         suffix=".json.tmp", delete=False,
                                         encoding="utf-8") as handle:
            temporary.append(Path(handle.name))
            json.dump(manifest, handle, indent=2)
        validate_name(name, home, overwrite)  # another import may have taken the name meanwhile
        os.replace(temporary[0], targets["npz"])
        replaced_arrays = True
        os.replace(temporary[1], targets["json"])
    except BaseException:
        for path in temporary:
            path.unlink(missing_ok=True)
        if replaced_arrays and not targets["json"].exists():
            targets["npz"].unlink(missing_ok=True)
        raise
